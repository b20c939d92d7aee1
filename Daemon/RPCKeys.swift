/// Transmission RPC names in their two spellings: before 4.1 (`rpc-version` 17 and below) methods and
/// session keys were kebab-case (`torrent-get`, `download-dir`) and torrent fields camelCase
/// (`hashString`); 4.1 (`rpc-version` 18, the JSON-RPC 2.0 form) spells all of them snake_case. The
/// dispatcher works in snake_case and answers in the spelling of the request.
enum RPCKeys {
    /// The snake_case spelling of a legacy (camelCase or kebab-case) or snake_case name:
    /// `hashString` → `hash_string`, `download-dir` → `download_dir`, `torrent_get` unchanged.
    static func snake(_ name: String) -> String {
        var result = ""
        result.reserveCapacity(name.utf8.count + 4)
        for character in name {
            if character == "-" {
                result.append("_")
            } else if character.isUppercase {
                if !result.isEmpty && result.last != "_" { result.append("_") }
                result.append(contentsOf: character.lowercased())
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// `value` with every object key, at every depth, in snake_case.
    static func snakeKeys(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            var converted: [String: JSONValue] = [:]
            for (key, member) in members { converted[snake(key)] = snakeKeys(member) }
            return .object(converted)
        case .array(let elements):
            return .array(elements.map(snakeKeys))
        default:
            return value
        }
    }
}
