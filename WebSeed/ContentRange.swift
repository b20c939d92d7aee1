/// An HTTP `Content-Range` header of a `206` answer (RFC 9110 §14.4): `bytes first-last/complete`, the
/// complete length being `*` when the server does not know it.
///
/// Parsing is strict and bounded: at most ``maximumLength`` characters, decimal numbers of at most 18 digits
/// (so they fit an `Int64`), `first <= last`, and `last < complete` when the length is known.
public struct ContentRange: Hashable, Sendable, CustomStringConvertible {
    /// First byte, inclusive.
    public let first: Int64
    /// Last byte, inclusive.
    public let last: Int64
    /// The whole resource's length; nil for `*`.
    public let completeLength: Int64?

    /// Longest header value read.
    public static let maximumLength = 128

    /// Creates a range.
    public init(first: Int64, last: Int64, completeLength: Int64?) {
        self.first = first
        self.last = last
        self.completeLength = completeLength
    }

    /// Parses a header value; nil when it is not a satisfied byte range (an unsatisfied `bytes */1234` is nil
    /// too: it carries no content).
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maximumLength else { return nil }
        var index = 0
        func skipSpaces() {
            while index < bytes.count && (bytes[index] == 0x20 || bytes[index] == 0x09) { index += 1 }
        }
        func number() -> Int64? {
            var value: Int64 = 0
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                guard index - start < 18 else { return nil }
                value = value * 10 + Int64(bytes[index] - 0x30)
                index += 1
            }
            return index > start ? value : nil
        }
        skipSpaces()
        let unit = Array("bytes".utf8)
        guard bytes.count >= index + unit.count,
            zip(bytes[index..<(index + unit.count)], unit).allSatisfy({ $0 | 0x20 == $1 })
        else { return nil }
        index += unit.count
        guard index < bytes.count, bytes[index] == 0x20 else { return nil }
        skipSpaces()
        guard let first = number(), index < bytes.count, bytes[index] == UInt8(ascii: "-") else { return nil }
        index += 1
        guard let last = number(), index < bytes.count, bytes[index] == UInt8(ascii: "/") else { return nil }
        index += 1
        var complete: Int64?
        if index < bytes.count && bytes[index] == UInt8(ascii: "*") {
            index += 1
        } else {
            guard let value = number() else { return nil }
            complete = value
        }
        skipSpaces()
        guard index == bytes.count, first <= last, complete.map({ last < $0 }) ?? true else { return nil }
        self.init(first: first, last: last, completeLength: complete)
    }

    /// Bytes in the range.
    public var length: Int64 { last - first + 1 }

    /// `bytes first-last/complete`, the form it was read from.
    public var description: String { "bytes \(first)-\(last)/\(completeLength.map(String.init) ?? "*")" }
}
