/// A decoded bencode document: the input bytes plus a flat token table describing every value in them.
///
/// Decoding validates the whole input once and records, for each value, where it starts and ends.
/// Nothing is copied out of the input: strings are returned as slices of ``bytes`` and every value can
/// give back its exact original encoding (``BencodeNode/rawBytes``), which is what info-hashes are computed
/// over. The design follows libtorrent's `bdecode_node` token table, which is what makes it fast.
///
/// ```swift
/// let document = try BencodeDocument(torrentBytes, options: .lenient)
/// let name = document.root["info"]?["name"]?.string
/// ```
public struct BencodeDocument: Sendable {
    /// The input, exactly as given.
    public let bytes: [UInt8]
    /// Token table: token 0 is the root value; a container's children follow it in order.
    @usableFromInline let tokens: BencodeTokenTable

    /// Decodes `bytes`, which must hold exactly one bencoded value.
    /// - Throws: ``BencodeError`` with the byte offset of the first problem.
    public init(_ bytes: [UInt8], options: BencodeDecodingOptions = .strict) throws(BencodeError) {
        var parser = BencodeTokenizer(options: options)
        let end = try parser.tokenize(bytes)
        guard end == bytes.count else {
            throw BencodeError(.trailingBytes, at: end, "\(bytes.count - end) byte(s) after the end of the value")
        }
        self.bytes = bytes
        self.tokens = parser.tokens
    }

    /// Decodes one bencoded value from the start of `bytes` and reports how many bytes it used, leaving the
    /// rest to the caller (BEP 9 `ut_metadata` data messages put raw bytes after a dictionary).
    public static func decodePrefix(
        _ bytes: [UInt8], options: BencodeDecodingOptions = .strict
    ) throws(BencodeError) -> (document: BencodeDocument, consumed: Int) {
        var parser = BencodeTokenizer(options: options)
        let end = try parser.tokenize(bytes)
        return (BencodeDocument(bytes: bytes, tokens: parser.tokens), end)
    }

    init(bytes: [UInt8], tokens: BencodeTokenTable) {
        self.bytes = bytes
        self.tokens = tokens
    }

    /// The top-level value.
    public var root: BencodeNode { BencodeNode(document: self, index: 0) }

    /// Number of values in the document.
    public var valueCount: Int { tokens.count }
}

/// One entry of the token table (16 bytes).
@usableFromInline
struct BencodeToken: Sendable {
    /// Offset of the value's first byte (`i`, `l`, `d` or the first digit of a string length).
    var start: UInt32
    /// Offset one past the value's last byte.
    var end: UInt32
    /// Strings: offset of the payload (after `:`). Lists and dictionaries: index of the first token after
    /// the container's subtree. Integers: unused.
    var aux: UInt32
    var kind: BencodeNode.Kind
}

/// The token table: a growable buffer written once by the tokenizer and read-only afterwards.
///
/// `@unchecked Sendable` is sound because nothing mutates a table after ``BencodeDocument`` receives it.
@usableFromInline
final class BencodeTokenTable: @unchecked Sendable {
    var base: UnsafeMutablePointer<BencodeToken>
    var count = 0
    var capacity: Int

    init(capacity: Int) {
        self.capacity = Swift.max(capacity, 1)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always) func append(_ token: BencodeToken) {
        if count == capacity { grow() }
        (base + count).initialize(to: token)
        count += 1
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<BencodeToken>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }

    @usableFromInline subscript(index: Int) -> BencodeToken {
        precondition(index >= 0 && index < count, "token index out of range")
        return base[index]
    }
}
