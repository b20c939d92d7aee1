/// The validating single-pass tokenizer behind ``BencodeDocument``.
///
/// Iterative (an explicit stack bounded by `maxDepth`), so hostile nesting cannot overflow the call stack.
struct BencodeTokenizer {
    let options: BencodeDecodingOptions
    var tokens = BencodeTokenTable(capacity: 0)

    init(options: BencodeDecodingOptions) { self.options = options }

    private struct Frame {
        var token: Int
        var isDictionary: Bool
        var expectKey: Bool
        var lastKeyStart: Int
        var lastKeyEnd: Int
    }

    private static let e = UInt8(ascii: "e")
    private static let i = UInt8(ascii: "i")
    private static let l = UInt8(ascii: "l")
    private static let d = UInt8(ascii: "d")
    private static let colon = UInt8(ascii: ":")
    private static let minus = UInt8(ascii: "-")
    private static let zero = UInt8(ascii: "0")
    private static let nine = UInt8(ascii: "9")

    /// Tokenizes one value starting at offset 0; returns the offset just past it.
    mutating func tokenize(_ input: [UInt8]) throws(BencodeError) -> Int {
        guard input.count < Int(UInt32.max) else {
            throw BencodeError(.inputTooLarge, at: 0, "input of \(input.count) bytes exceeds the 4 GiB limit")
        }
        // The hot loop appends to a manually grown table that the document then owns as is: Array's
        // per-append checks, and a final copy into an Array, each cost about a third of the decoding time.
        let table = BencodeTokenTable(capacity: min(options.maxTokens, max(16, input.count / 12)))
        let end = try input.withUnsafeBufferPointer { bytes throws(BencodeError) in try run(bytes, table) }
        tokens = table
        return end
    }

    private func run(
        _ p: UnsafeBufferPointer<UInt8>, _ tokens: BencodeTokenTable
    ) throws(BencodeError) -> Int {
        let n = p.count
        var pos = 0
        let maxTokens = options.maxTokens
        let maxDepth = options.maxDepth
        let lenient = options.allowUnsortedKeys
        // The container stack, bounded by maxDepth.
        let stack = UnsafeMutablePointer<Frame>.allocate(capacity: maxDepth + 1)
        defer { stack.deallocate() }
        var depth = 0

        repeat {
            guard pos < n else {
                throw BencodeError(
                    .unexpectedEnd, at: pos,
                    depth == 0 ? "empty input" : "input ended inside an unterminated list or dictionary")
            }
            let c = p[pos]
            if c == Self.e {
                guard depth > 0 else {
                    throw BencodeError(.unexpectedByte, at: pos, "'e' where a value was expected")
                }
                let frame = stack[depth - 1]
                if frame.isDictionary && !frame.expectKey {
                    throw BencodeError(.missingValue, at: pos, "dictionary key without a value")
                }
                tokens.base[frame.token].end = UInt32(pos + 1)
                tokens.base[frame.token].aux = UInt32(tokens.count)
                depth -= 1
                pos += 1
                continue
            }
            guard tokens.count < maxTokens else {
                throw BencodeError(.tokenLimitExceeded, at: pos, "more than \(maxTokens) values")
            }
            // Dictionary bookkeeping: alternate key, value; keys must be strings in order.
            var isKey = false
            if depth > 0 && stack[depth - 1].isDictionary {
                if stack[depth - 1].expectKey {
                    guard c >= Self.zero && c <= Self.nine else {
                        throw BencodeError(.nonStringKey, at: pos, "dictionary key is not a byte string")
                    }
                    isKey = true
                    stack[depth - 1].expectKey = false
                } else {
                    stack[depth - 1].expectKey = true
                }
            }
            switch c {
            case Self.i:
                let end = try Self.scanInteger(p, from: pos)
                tokens.append(BencodeToken(start: UInt32(pos), end: UInt32(end), aux: 0, kind: .integer))
                pos = end
            case Self.zero...Self.nine:
                let (payload, end) = try Self.scanString(p, from: pos)
                if isKey {
                    let frame = stack[depth - 1]
                    if frame.lastKeyEnd >= 0 {
                        let order = Self.compare(p, frame.lastKeyStart, frame.lastKeyEnd, payload, end)
                        if order == 0 {
                            throw BencodeError(.duplicateKey, at: pos, "duplicate dictionary key")
                        } else if order > 0 && !lenient {
                            throw BencodeError(.unsortedKeys, at: pos, "dictionary keys are not in ascending order")
                        }
                    }
                    stack[depth - 1].lastKeyStart = payload
                    stack[depth - 1].lastKeyEnd = end
                }
                tokens.append(BencodeToken(start: UInt32(pos), end: UInt32(end), aux: UInt32(payload), kind: .string))
                pos = end
            case Self.l, Self.d:
                guard depth < maxDepth else {
                    throw BencodeError(.depthLimitExceeded, at: pos, "nesting deeper than \(maxDepth)")
                }
                let isDictionary = c == Self.d
                (stack + depth).initialize(
                    to: Frame(
                        token: tokens.count, isDictionary: isDictionary, expectKey: true, lastKeyStart: -1,
                        lastKeyEnd: -1))
                depth += 1
                tokens.append(
                    BencodeToken(start: UInt32(pos), end: 0, aux: 0, kind: isDictionary ? .dictionary : .list))
                pos += 1
            default:
                throw BencodeError(
                    .unexpectedByte, at: pos, "unexpected byte 0x\(String(c, radix: 16)) at start of value")
            }
        } while depth > 0
        return pos
    }

    /// Lexicographic byte comparison of two ranges of `p`.
    @inline(__always)
    private static func compare(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ aEnd: Int, _ b: Int, _ bEnd: Int) -> Int {
        let la = aEnd - a
        let lb = bEnd - b
        let common = min(la, lb)
        var k = 0
        while k < common {
            let x = p[a + k]
            let y = p[b + k]
            if x != y { return x < y ? -1 : 1 }
            k += 1
        }
        return la == lb ? 0 : (la < lb ? -1 : 1)
    }

    /// Validates `i<digits>e` starting at `start` (which holds `i`); returns the offset after `e`.
    private static func scanInteger(_ p: UnsafeBufferPointer<UInt8>, from start: Int) throws(BencodeError) -> Int {
        let n = p.count
        var pos = start + 1
        var negative = false
        if pos < n && p[pos] == minus {
            negative = true
            pos += 1
        }
        let firstDigit = pos
        // Accumulate negatively so that Int64.min is representable.
        var value: Int64 = 0
        while pos < n, p[pos] >= zero, p[pos] <= nine {
            let digit = Int64(p[pos] &- zero)
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.subtractingReportingOverflow(digit)
            if o1 || o2 {
                throw BencodeError(.integerOverflow, at: start, "integer does not fit in 64 bits")
            }
            value = s
            pos += 1
        }
        guard pos < n else { throw BencodeError(.unexpectedEnd, at: pos, "input ended inside an integer") }
        if pos == firstDigit {
            throw BencodeError(.invalidInteger, at: pos, "integer has no digits")
        }
        guard p[pos] == e else {
            throw BencodeError(.invalidInteger, at: pos, "unexpected byte 0x\(String(p[pos], radix: 16)) in integer")
        }
        if p[firstDigit] == zero && pos - firstDigit > 1 {
            throw BencodeError(.leadingZero, at: firstDigit, "integer has a leading zero")
        }
        if negative {
            if value == 0 { throw BencodeError(.negativeZero, at: start, "i-0e is not allowed") }
        } else if value == Int64.min {
            throw BencodeError(.integerOverflow, at: start, "integer does not fit in 64 bits")
        }
        return pos + 1
    }

    /// Validates `<length>:<payload>` starting at `start`; returns (payload offset, end offset).
    private static func scanString(
        _ p: UnsafeBufferPointer<UInt8>, from start: Int
    ) throws(BencodeError) -> (Int, Int) {
        let n = p.count
        var pos = start
        var length = 0
        while pos < n, p[pos] >= zero, p[pos] <= nine {
            length = length &* 10 &+ Int(p[pos] &- zero)
            if length > n {
                throw BencodeError(.lengthPastEnd, at: start, "string length runs past the end of the input")
            }
            pos += 1
        }
        guard pos < n else { throw BencodeError(.unexpectedEnd, at: pos, "input ended inside a string length") }
        guard p[pos] == colon else {
            throw BencodeError(.invalidLength, at: pos, "string length is not followed by ':'")
        }
        if p[start] == zero && pos - start > 1 {
            throw BencodeError(.leadingZero, at: start, "string length has a leading zero")
        }
        let payload = pos + 1
        guard length <= n - payload else {
            throw BencodeError(
                .lengthPastEnd, at: start, "string of \(length) bytes runs past the end of the input")
        }
        return (payload, payload + length)
    }
}
