import Testing

@testable import BTDaemon

/// Requests parse in both forms of the protocol, names fold to snake_case, and anything that is not a
/// request is a typed error (never a crash), including nesting meant to exhaust the stack.
@Suite struct RPCRequestsParse {
    @Test(arguments: [
        ("hashString", "hash_string"), ("download-dir", "download_dir"), ("torrent_get", "torrent_get"),
        ("peersGettingFromUs", "peers_getting_from_us"), ("recently-active", "recently_active"),
        ("seedRatioLimit", "seed_ratio_limit"), ("rpc-version-minimum", "rpc_version_minimum"),
    ])
    func namesFoldToSnakeCase(name: String, snake: String) {
        #expect(RPCKeys.snake(name) == snake)
    }

    @Test func theOriginalFormKeepsItsTag() throws {
        let request = try RPCRequest.parse(
            Array(#"{"method":"torrent-get","arguments":{"fields":["id"]},"tag":5}"#.utf8))
        #expect(request.method == "torrent_get" && request.arguments["fields"] == ["id"])
        #expect(request.form == .legacy(tag: 5))
    }

    @Test func theJSONRPCFormKeepsItsID() throws {
        let request = try RPCRequest.parse(
            Array(#"{"jsonrpc":"2.0","method":"torrent_get","params":{"ids":[1]},"id":9}"#.utf8))
        #expect(request.method == "torrent_get" && request.form == .jsonRPC(id: 9))
    }

    @Test(arguments: [
        "", "{", "[]", "null", #"{"method":5}"#, #"{"method":"x","arguments":[1]}"#, #"{"jsonrpc":"1.0","method":"x"}"#,
        String(repeating: "[", count: 100_000), String(repeating: #"{"a":"#, count: 5000),
        #"{"method":""# + String(repeating: "a", count: 1000) + #""}"#,
    ])
    func nonRequestsAreTypedErrors(text: String) {
        #expect(throws: RPCRequestError.self) { try RPCRequest.parse(Array(text.utf8)) }
    }

    @Test func bracketsInsideStringsDoNotCountAsNesting() throws {
        let text = #"{"method":"x","arguments":{"s":""# + String(repeating: "[{", count: 100) + #"\""}}"#
        let request = try RPCRequest.parse(Array(text.utf8))
        #expect(request.arguments["s"]?.stringValue?.hasSuffix("\"") == true)
    }
}
