#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Encodes `Encodable` values as canonical bencode.
///
/// Mapping: integers and `Bool` (as 0/1) → integer; `String` → UTF-8 byte string; `[UInt8]` and `Data`
/// → byte string; arrays and other unkeyed containers → list; structs and keyed containers → dictionary
/// with sorted keys; `nil` optionals in a keyed container are omitted. Floating point and `nil` inside a
/// list have no bencode form and throw ``BencodeError`` with code ``BencodeError/Code/unsupportedValue``.
public struct BencodeEncoder: Sendable {
    /// Creates an encoder.
    public init() {}

    /// Encodes `value` to canonical bencode bytes.
    public func encode(_ value: some Encodable) throws -> [UInt8] {
        try encodeValue(value).encoded()
    }

    /// Encodes `value` to a ``BencodeValue`` tree.
    public func encodeValue(_ value: some Encodable) throws -> BencodeValue {
        if let special = try Self.special(value) { return special }
        let encoder = _BencodeEncoder(codingPath: [])
        try value.encode(to: encoder)
        guard let result = encoder.storage.value else {
            throw BencodeError(.unsupportedValue, at: 0, "\(type(of: value)) encoded no value")
        }
        return result
    }

    /// Byte-string types that would otherwise encode as lists of integers.
    static func special(_ value: Any) throws -> BencodeValue? {
        // Compare exact types: an empty `[String]` would pass `as? [UInt8]`.
        if type(of: value) == [UInt8].self { return .bytes(ArraySlice(value as! [UInt8])) }
        if type(of: value) == ArraySlice<UInt8>.self { return .bytes(value as! ArraySlice<UInt8>) }
        if type(of: value) == Data.self { return .bytes(ArraySlice(value as! Data)) }
        return nil
    }
}

/// Where a container puts what it encodes: a reference so nested containers can fill their parent.
final class BencodeEncodingStorage {
    var value: BencodeValue?
    var dictionary: [(key: String, value: BencodeEncodingStorage)] = []
    var list: [BencodeEncodingStorage] = []
    enum Kind { case unset, scalar, dictionary, list }
    var kind: Kind = .unset

    func resolve() throws -> BencodeValue {
        switch kind {
        case .unset, .scalar:
            guard let value else { throw BencodeError(.unsupportedValue, at: 0, "container encoded no value") }
            return value
        case .dictionary:
            var entries: [BencodeDictionary.Entry] = []
            for (key, storage) in dictionary {
                entries.append(.init(key: ArraySlice(key.utf8), value: try storage.resolve()))
            }
            return .dictionary(BencodeDictionary(entries))
        case .list:
            return .list(try list.map { try $0.resolve() })
        }
    }
}

final class _BencodeEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    let storage: Box

    final class Box {
        var root = BencodeEncodingStorage()
        var value: BencodeValue? { try? root.resolve() }
    }

    init(codingPath: [any CodingKey], storage: BencodeEncodingStorage? = nil) {
        self.codingPath = codingPath
        let box = Box()
        if let storage { box.root = storage }
        self.storage = box
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        storage.root.kind = .dictionary
        return KeyedEncodingContainer(BencodeKeyedEncoding<Key>(storage: storage.root, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        storage.root.kind = .list
        return BencodeUnkeyedEncoding(storage: storage.root, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        BencodeSingleEncoding(storage: storage.root, codingPath: codingPath)
    }
}

/// Encodes one value into a storage slot.
func bencodeEncode(_ value: some Encodable, into slot: BencodeEncodingStorage, path: [any CodingKey]) throws {
    if let special = try BencodeEncoder.special(value) {
        slot.kind = .scalar
        slot.value = special
        return
    }
    let encoder = _BencodeEncoder(codingPath: path, storage: slot)
    try value.encode(to: encoder)
}

struct BencodeKeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let storage: BencodeEncodingStorage
    let codingPath: [any CodingKey]

    private func slot(_ key: Key) -> BencodeEncodingStorage {
        if let index = storage.dictionary.firstIndex(where: { $0.key == key.stringValue }) {
            return storage.dictionary[index].value
        }
        let slot = BencodeEncodingStorage()
        storage.dictionary.append((key.stringValue, slot))
        return slot
    }

    mutating func encodeNil(forKey key: Key) throws {}
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.integer(value ? 1 : 0), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { throw unsupported("Double", key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { throw unsupported("Float", key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(try checked(value, key), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.integer(Int64(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.integer(Int64(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(.integer(Int64(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(try checked(value, key), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try bencodeEncode(value, into: slot(key), path: codingPath + [key])
    }

    private func set(_ value: BencodeValue, _ key: Key) {
        let slot = slot(key)
        slot.kind = .scalar
        slot.value = value
    }

    private func checked(_ value: some BinaryInteger, _ key: Key) throws -> BencodeValue {
        guard let v = Int64(exactly: value) else {
            throw BencodeError(.unsupportedValue, at: 0, "\(value) at '\(key.stringValue)' does not fit in Int64")
        }
        return .integer(v)
    }

    private func unsupported(_ type: String, _ key: Key) -> BencodeError {
        BencodeError(.unsupportedValue, at: 0, "bencode has no \(type) (key '\(key.stringValue)')")
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let slot = slot(key)
        slot.kind = .dictionary
        return KeyedEncodingContainer(BencodeKeyedEncoding<NestedKey>(storage: slot, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let slot = slot(key)
        slot.kind = .list
        return BencodeUnkeyedEncoding(storage: slot, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        _BencodeEncoder(codingPath: codingPath + [key], storage: slot(key))
    }
}

struct BencodeIndexKey: CodingKey {
    var stringValue: String { String(intValue!) }
    var intValue: Int?
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

struct BencodeUnkeyedEncoding: UnkeyedEncodingContainer {
    let storage: BencodeEncodingStorage
    let codingPath: [any CodingKey]
    var count: Int { storage.list.count }

    private func append(_ value: BencodeValue) {
        let slot = BencodeEncodingStorage()
        slot.kind = .scalar
        slot.value = value
        storage.list.append(slot)
    }

    mutating func encodeNil() throws {
        throw BencodeError(.unsupportedValue, at: 0, "bencode lists cannot hold nil (index \(count))")
    }
    mutating func encode(_ value: Bool) throws { append(.integer(value ? 1 : 0)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws {
        throw BencodeError(.unsupportedValue, at: 0, "bencode has no Double")
    }
    mutating func encode(_ value: Float) throws { throw BencodeError(.unsupportedValue, at: 0, "bencode has no Float") }
    mutating func encode(_ value: Int64) throws { append(.integer(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let slot = BencodeEncodingStorage()
        storage.list.append(slot)
        try bencodeEncode(value, into: slot, path: codingPath + [BencodeIndexKey(count - 1)])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        let slot = BencodeEncodingStorage()
        slot.kind = .dictionary
        storage.list.append(slot)
        return KeyedEncodingContainer(
            BencodeKeyedEncoding<NestedKey>(storage: slot, codingPath: codingPath + [BencodeIndexKey(count - 1)]))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let slot = BencodeEncodingStorage()
        slot.kind = .list
        storage.list.append(slot)
        return BencodeUnkeyedEncoding(storage: slot, codingPath: codingPath + [BencodeIndexKey(count - 1)])
    }

    mutating func superEncoder() -> any Encoder {
        let slot = BencodeEncodingStorage()
        storage.list.append(slot)
        return _BencodeEncoder(codingPath: codingPath, storage: slot)
    }
}

struct BencodeSingleEncoding: SingleValueEncodingContainer {
    let storage: BencodeEncodingStorage
    let codingPath: [any CodingKey]

    private func set(_ value: BencodeValue) {
        storage.kind = .scalar
        storage.value = value
    }

    mutating func encodeNil() throws {
        throw BencodeError(.unsupportedValue, at: 0, "bencode cannot encode a lone nil")
    }
    mutating func encode(_ value: Bool) throws { set(.integer(value ? 1 : 0)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws {
        throw BencodeError(.unsupportedValue, at: 0, "bencode has no Double")
    }
    mutating func encode(_ value: Float) throws { throw BencodeError(.unsupportedValue, at: 0, "bencode has no Float") }
    mutating func encode(_ value: Int) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: Int8) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: Int16) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: Int32) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: Int64) throws { set(.integer(value)) }
    mutating func encode(_ value: UInt) throws { try encodeUnsigned(value) }
    mutating func encode(_ value: UInt8) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { try encodeUnsigned(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try bencodeEncode(value, into: storage, path: codingPath) }

    private func encodeUnsigned(_ value: some BinaryInteger) throws {
        guard let v = Int64(exactly: value) else {
            throw BencodeError(.unsupportedValue, at: 0, "\(value) does not fit in Int64")
        }
        set(.integer(v))
    }
}
