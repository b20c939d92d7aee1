/// A view of one value inside a ``BencodeDocument``. Cheap to copy; never copies input bytes.
public struct BencodeNode: Sendable {
    /// The four bencode types.
    public enum Kind: UInt8, Sendable, Hashable {
        /// `i42e`
        case integer
        /// `4:spam`
        case string
        /// `l...e`
        case list
        /// `d...e`
        case dictionary
    }

    /// The document this value belongs to.
    public let document: BencodeDocument
    /// Index of this value in the document's token table.
    public let index: Int

    @usableFromInline init(document: BencodeDocument, index: Int) {
        self.document = document
        self.index = index
    }

    @inline(__always) var token: BencodeToken { document.tokens[index] }

    /// The type of this value.
    public var kind: Kind { token.kind }

    /// Offsets of this value's exact encoding in ``BencodeDocument/bytes``.
    public var byteRange: Range<Int> { Int(token.start)..<Int(token.end) }

    /// This value's exact original encoding (a slice of the input, not a copy).
    public var rawBytes: ArraySlice<UInt8> { document.bytes[byteRange] }

    /// The integer, if this is an integer.
    public var integer: Int64? {
        let t = token
        guard t.kind == .integer else { return nil }
        // Already validated by the tokenizer: parse without checks.
        var pos = Int(t.start) + 1
        let end = Int(t.end) - 1
        let bytes = document.bytes
        let negative = bytes[pos] == UInt8(ascii: "-")
        if negative { pos += 1 }
        var value: Int64 = 0
        while pos < end {
            value = value &* 10 &- Int64(bytes[pos] &- UInt8(ascii: "0"))
            pos += 1
        }
        return negative ? value : 0 &- value
    }

    /// The byte string's payload (a slice of the input), if this is a string.
    public var bytes: ArraySlice<UInt8>? {
        let t = token
        guard t.kind == .string else { return nil }
        return document.bytes[Int(t.aux)..<Int(t.end)]
    }

    /// The byte string decoded as UTF-8, or nil if this is not a string or not valid UTF-8.
    public var string: String? {
        guard let bytes else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Index just past this value's subtree in the token table.
    @inline(__always) var nextIndex: Int {
        let t = token
        return t.kind == .list || t.kind == .dictionary ? Int(t.aux) : index + 1
    }

    /// The elements of a list (empty for other kinds).
    public var list: BencodeChildren { BencodeChildren(self, kind == .list) }

    /// Number of elements of a list, or entries of a dictionary; 0 for scalars.
    public var count: Int {
        var n = 0
        var child = index + 1
        let end = nextIndex
        while child < end {
            child = BencodeNode(document: document, index: child).nextIndex
            n += 1
        }
        return kind == .dictionary ? n / 2 : (kind == .list ? n : 0)
    }

    /// The entries of a dictionary in their original order (empty for other kinds).
    public var entries: [(key: ArraySlice<UInt8>, value: BencodeNode)] {
        guard kind == .dictionary else { return [] }
        var result: [(key: ArraySlice<UInt8>, value: BencodeNode)] = []
        var child = index + 1
        let end = nextIndex
        while child < end {
            let key = BencodeNode(document: document, index: child)
            let value = BencodeNode(document: document, index: child + 1)
            result.append((key.bytes!, value))
            child = value.nextIndex
        }
        return result
    }

    /// Looks up a dictionary value by key (bytes compared exactly); nil if absent or not a dictionary.
    public subscript(key: some Collection<UInt8>) -> BencodeNode? {
        guard kind == .dictionary else { return nil }
        let bytes = document.bytes
        let tokens = document.tokens
        let keyCount = key.count
        var child = index + 1
        let end = nextIndex
        while child < end {
            let k = tokens[child]
            let payload = Int(k.aux)
            if Int(k.end) - payload == keyCount && bytes[payload..<Int(k.end)].elementsEqual(key) {
                return BencodeNode(document: document, index: child + 1)
            }
            child = BencodeNode(document: document, index: child + 1).nextIndex
        }
        return nil
    }

    /// Looks up a dictionary value by a UTF-8 key.
    public subscript(key: String) -> BencodeNode? { self[Array(key.utf8)] }

    /// Converts this value (and everything under it) into an owned ``BencodeValue`` (strings stay slices).
    public var value: BencodeValue {
        switch kind {
        case .integer: return .integer(integer!)
        case .string: return .bytes(bytes!)
        case .list: return .list(list.map { $0.value })
        case .dictionary:
            return .dictionary(
                BencodeDictionary(entries.map { BencodeDictionary.Entry(key: $0.key, value: $0.value.value) }))
        }
    }
}

/// The elements of a bencode list, as a lazy sequence of ``BencodeNode``.
public struct BencodeChildren: Sequence, Sendable {
    let parent: BencodeNode
    let active: Bool
    init(_ parent: BencodeNode, _ active: Bool) {
        self.parent = parent
        self.active = active
    }

    /// Iterator over the elements.
    public struct Iterator: IteratorProtocol {
        let document: BencodeDocument
        var position: Int
        let end: Int
        /// The next element.
        public mutating func next() -> BencodeNode? {
            guard position < end else { return nil }
            let node = BencodeNode(document: document, index: position)
            position = node.nextIndex
            return node
        }
    }

    public func makeIterator() -> Iterator {
        Iterator(document: parent.document, position: parent.index + 1, end: active ? parent.nextIndex : 0)
    }

    /// Elements as an array.
    public var array: [BencodeNode] { Array(self) }
}
