/// An owned bencode value, for building documents and for values materialised from a ``BencodeDocument``.
///
/// Byte strings are `ArraySlice<UInt8>`, so a value taken from a document still shares the input's storage.
public indirect enum BencodeValue: Sendable, Hashable {
    /// An integer (`i42e`).
    case integer(Int64)
    /// A byte string (`4:spam`).
    case bytes(ArraySlice<UInt8>)
    /// A list (`l...e`).
    case list([BencodeValue])
    /// A dictionary (`d...e`); keys keep their order here and are sorted on encoding.
    case dictionary(BencodeDictionary)

    /// A byte string holding the UTF-8 of `string`.
    public static func string(_ string: String) -> BencodeValue { .bytes(ArraySlice(string.utf8)) }

    /// The integer, if this is one.
    public var integer: Int64? { if case .integer(let v) = self { v } else { nil } }
    /// The byte string, if this is one.
    public var bytes: ArraySlice<UInt8>? { if case .bytes(let v) = self { v } else { nil } }
    /// The byte string as UTF-8, if this is a valid UTF-8 string.
    public var string: String? { bytes.flatMap { String(validating: $0, as: UTF8.self) } }
    /// The list, if this is one.
    public var list: [BencodeValue]? { if case .list(let v) = self { v } else { nil } }
    /// The dictionary, if this is one.
    public var dictionary: BencodeDictionary? { if case .dictionary(let v) = self { v } else { nil } }

    /// Looks up a key in a dictionary value.
    public subscript(key: String) -> BencodeValue? { dictionary?[key] }

    /// Decodes `bytes` (strict unless told otherwise) into an owned value.
    public init(decoding bytes: [UInt8], options: BencodeDecodingOptions = .strict) throws(BencodeError) {
        self = try BencodeDocument(bytes, options: options).root.value
    }

    /// The canonical encoding: dictionary keys sorted by their bytes, integers without leading zeros.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Appends the canonical encoding to `out`.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .integer(let v):
            out.append(UInt8(ascii: "i"))
            out.append(contentsOf: String(v).utf8)
            out.append(UInt8(ascii: "e"))
        case .bytes(let b):
            Self.appendString(b, to: &out)
        case .list(let items):
            out.append(UInt8(ascii: "l"))
            for item in items { item.encode(into: &out) }
            out.append(UInt8(ascii: "e"))
        case .dictionary(let dictionary):
            out.append(UInt8(ascii: "d"))
            for entry in dictionary.sortedEntries {
                Self.appendString(entry.key, to: &out)
                entry.value.encode(into: &out)
            }
            out.append(UInt8(ascii: "e"))
        }
    }

    @inline(__always)
    static func appendString(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        out.append(contentsOf: String(bytes.count).utf8)
        out.append(UInt8(ascii: ":"))
        out.append(contentsOf: bytes)
    }
}

extension BencodeValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: BencodeValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, BencodeValue)...) {
        self = .dictionary(BencodeDictionary(elements.map { .init(key: ArraySlice($0.0.utf8), value: $0.1) }))
    }
}

/// A bencode dictionary: entries in insertion (or original) order; encoding sorts them.
public struct BencodeDictionary: Sendable, Hashable, Sequence {
    /// One key/value pair.
    public struct Entry: Sendable, Hashable {
        /// The key's bytes.
        public var key: ArraySlice<UInt8>
        /// The value.
        public var value: BencodeValue
        /// Creates an entry.
        public init(key: ArraySlice<UInt8>, value: BencodeValue) {
            self.key = key
            self.value = value
        }
    }

    /// The entries in order.
    public private(set) var entries: [Entry]

    /// Creates a dictionary from entries; a later entry with the same key replaces an earlier one.
    public init(_ entries: [Entry] = []) {
        self.entries = []
        for entry in entries { self[entry.key] = entry.value }
    }

    /// Value for a byte key. Setting nil removes the key.
    public subscript(key: some Collection<UInt8>) -> BencodeValue? {
        get { entries.first { $0.key.elementsEqual(key) }?.value }
        set {
            if let index = entries.firstIndex(where: { $0.key.elementsEqual(key) }) {
                if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
            } else if let newValue {
                entries.append(Entry(key: ArraySlice(key), value: newValue))
            }
        }
    }

    /// Value for a UTF-8 key. Setting nil removes the key.
    public subscript(key: String) -> BencodeValue? {
        get { self[Array(key.utf8)] }
        set { self[Array(key.utf8)] = newValue }
    }

    /// Number of entries.
    public var count: Int { entries.count }

    /// Entries sorted by key bytes, as canonical encoding requires.
    public var sortedEntries: [Entry] { entries.sorted { $0.key.lexicographicallyPrecedes($1.key) } }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}
