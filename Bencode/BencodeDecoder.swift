#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Decodes `Decodable` values from bencode, reading straight from a ``BencodeDocument`` (no intermediate
/// tree). The mapping mirrors ``BencodeEncoder``; `[UInt8]` and `Data` read byte strings, `String` must be
/// valid UTF-8, `Bool` reads integers 0 and 1.
public struct BencodeDecoder: Sendable {
    /// Options for the underlying ``BencodeDocument`` (lenient by default: real-world data has unsorted keys).
    public var options: BencodeDecodingOptions

    /// Creates a decoder.
    public init(options: BencodeDecodingOptions = .lenient) { self.options = options }

    /// Decodes a `T` from bencode bytes.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decode(type, from: BencodeDocument(bytes, options: options).root)
    }

    /// Decodes a `T` from a node of an existing document.
    public func decode<T: Decodable>(_ type: T.Type, from node: BencodeNode) throws -> T {
        try bencodeDecode(type, from: node, path: [])
    }
}

func bencodeDecode<T: Decodable>(_ type: T.Type, from node: BencodeNode, path: [any CodingKey]) throws -> T {
    if T.self == [UInt8].self { return Array(try bencodeBytes(node, path)) as! T }
    if T.self == ArraySlice<UInt8>.self { return try bencodeBytes(node, path) as! T }
    if T.self == Data.self { return Data(try bencodeBytes(node, path)) as! T }
    return try T(from: _BencodeDecoder(node: node, codingPath: path))
}

private func pathText(_ path: [any CodingKey]) -> String {
    path.isEmpty ? "top level" : path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
}

func bencodeMismatch(_ node: BencodeNode, _ expected: String, _ path: [any CodingKey]) -> BencodeError {
    BencodeError(
        .typeMismatch, at: node.byteRange.lowerBound, "expected \(expected) at \(pathText(path)), found \(node.kind)")
}

func bencodeBytes(_ node: BencodeNode, _ path: [any CodingKey]) throws -> ArraySlice<UInt8> {
    guard let bytes = node.bytes else { throw bencodeMismatch(node, "a byte string", path) }
    return bytes
}

struct _BencodeDecoder: Decoder {
    let node: BencodeNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard node.kind == .dictionary else { throw bencodeMismatch(node, "a dictionary", codingPath) }
        return KeyedDecodingContainer(BencodeKeyedDecoding<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard node.kind == .list else { throw bencodeMismatch(node, "a list", codingPath) }
        return BencodeUnkeyedDecoding(elements: node.list.array, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        BencodeSingleDecoding(node: node, codingPath: codingPath)
    }
}

/// Scalar reads shared by the three container kinds.
enum BencodeScalar {
    static func integer<T: FixedWidthInteger>(_ node: BencodeNode, _ path: [any CodingKey]) throws -> T {
        guard let value = node.integer else { throw bencodeMismatch(node, "an integer", path) }
        guard let result = T(exactly: value) else {
            throw BencodeError(
                .typeMismatch, at: node.byteRange.lowerBound, "\(value) does not fit in \(T.self) at \(pathText(path))")
        }
        return result
    }

    static func bool(_ node: BencodeNode, _ path: [any CodingKey]) throws -> Bool {
        switch node.integer {
        case 0: return false
        case 1: return true
        default: throw bencodeMismatch(node, "an integer 0 or 1", path)
        }
    }

    static func string(_ node: BencodeNode, _ path: [any CodingKey]) throws -> String {
        guard let bytes = node.bytes else { throw bencodeMismatch(node, "a byte string", path) }
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw BencodeError(
                .typeMismatch, at: node.byteRange.lowerBound, "byte string at \(pathText(path)) is not UTF-8")
        }
        return string
    }

    static func floating(_ node: BencodeNode, _ path: [any CodingKey]) -> BencodeError {
        BencodeError(
            .unsupportedValue, at: node.byteRange.lowerBound, "bencode has no floating point (\(pathText(path)))")
    }
}

struct BencodeKeyedDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let codingPath: [any CodingKey]
    let values: [String: BencodeNode]
    let node: BencodeNode
    let allKeys: [Key]

    init(node: BencodeNode, codingPath: [any CodingKey]) {
        self.node = node
        self.codingPath = codingPath
        var values: [String: BencodeNode] = [:]
        var keys: [Key] = []
        for entry in node.entries {
            // Non-UTF-8 keys cannot be named by a CodingKey; they are skipped.
            guard let key = String(validating: entry.key, as: UTF8.self) else { continue }
            if values[key] == nil {
                values[key] = entry.value
                if let codingKey = Key(stringValue: key) { keys.append(codingKey) }
            }
        }
        self.values = values
        self.allKeys = keys
    }

    func contains(_ key: Key) -> Bool { values[key.stringValue] != nil }

    private func child(_ key: Key) throws -> BencodeNode {
        guard let child = values[key.stringValue] else {
            throw BencodeError(
                .keyNotFound, at: node.byteRange.lowerBound,
                "missing key '\(key.stringValue)' at \(pathText(codingPath))")
        }
        return child
    }

    func decodeNil(forKey key: Key) throws -> Bool { values[key.stringValue] == nil }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try BencodeScalar.bool(child(key), codingPath + [key])
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try BencodeScalar.string(child(key), codingPath + [key])
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        throw BencodeScalar.floating(try child(key), codingPath + [key])
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        throw BencodeScalar.floating(try child(key), codingPath + [key])
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try int(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try int(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try int(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try int(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try int(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try int(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try int(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try int(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try int(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try int(key) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try bencodeDecode(type, from: child(key), path: codingPath + [key])
    }

    private func int<T: FixedWidthInteger>(_ key: Key) throws -> T {
        try BencodeScalar.integer(child(key), codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try _BencodeDecoder(node: child(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try _BencodeDecoder(node: child(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { _BencodeDecoder(node: node, codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        _BencodeDecoder(node: try child(key), codingPath: codingPath + [key])
    }
}

struct BencodeUnkeyedDecoding: UnkeyedDecodingContainer {
    let elements: [BencodeNode]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(elements: [BencodeNode], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next() throws -> (BencodeNode, [any CodingKey]) {
        guard !isAtEnd else {
            throw BencodeError(
                .keyNotFound, at: 0, "list at \(pathText(codingPath)) has only \(elements.count) elements")
        }
        defer { currentIndex += 1 }
        return (elements[currentIndex], codingPath + [BencodeIndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool { false }
    mutating func decode(_ type: Bool.Type) throws -> Bool {
        let (node, path) = try next()
        return try BencodeScalar.bool(node, path)
    }
    mutating func decode(_ type: String.Type) throws -> String {
        let (node, path) = try next()
        return try BencodeScalar.string(node, path)
    }
    mutating func decode(_ type: Double.Type) throws -> Double {
        let (node, path) = try next()
        throw BencodeScalar.floating(node, path)
    }
    mutating func decode(_ type: Float.Type) throws -> Float {
        let (node, path) = try next()
        throw BencodeScalar.floating(node, path)
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (node, path) = try next()
        return try bencodeDecode(type, from: node, path: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let (node, path) = try next()
        return try _BencodeDecoder(node: node, codingPath: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (node, path) = try next()
        return try _BencodeDecoder(node: node, codingPath: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (node, path) = try next()
        return _BencodeDecoder(node: node, codingPath: path)
    }
}

struct BencodeSingleDecoding: SingleValueDecodingContainer {
    let node: BencodeNode
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { false }
    func decode(_ type: Bool.Type) throws -> Bool { try BencodeScalar.bool(node, codingPath) }
    func decode(_ type: String.Type) throws -> String { try BencodeScalar.string(node, codingPath) }
    func decode(_ type: Double.Type) throws -> Double { throw BencodeScalar.floating(node, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { throw BencodeScalar.floating(node, codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try BencodeScalar.integer(node, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try BencodeScalar.integer(node, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try BencodeScalar.integer(node, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try BencodeScalar.integer(node, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try BencodeScalar.integer(node, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try BencodeScalar.integer(node, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try BencodeScalar.integer(node, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try BencodeScalar.integer(node, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try BencodeScalar.integer(node, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try BencodeScalar.integer(node, codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try bencodeDecode(type, from: node, path: codingPath) }
}
