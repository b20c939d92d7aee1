/// A 160-bit DHT node id or info-hash-sized key (BEP 5), ordered as a big-endian number.
///
/// Stored as three integers rather than a byte array so that XOR distances and comparisons, the inner loop
/// of routing and lookups, need no allocation: a 10,000-node simulation compares millions of them.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Number of bytes in an id.
    public static let byteCount = 20
    /// Number of bits in an id.
    public static let bitCount = 160

    var high: UInt64
    var middle: UInt64
    var low: UInt32

    init(high: UInt64, middle: UInt64, low: UInt32) {
        self.high = high
        self.middle = middle
        self.low = low
    }

    /// The all-zero id.
    public static let zero = NodeID(high: 0, middle: 0, low: 0)

    /// Creates an id from exactly 20 bytes; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var high: UInt64 = 0
        var middle: UInt64 = 0
        var low: UInt32 = 0
        for (index, byte) in bytes.enumerated() {
            switch index {
            case 0..<8: high = high << 8 | UInt64(byte)
            case 8..<16: middle = middle << 8 | UInt64(byte)
            default: low = low << 8 | UInt32(byte)
            }
        }
        self.init(high: high, middle: middle, low: low)
    }

    /// Parses 40 hexadecimal digits; nil otherwise.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 40 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        for index in stride(from: 0, to: 40, by: 2) {
            guard let hi = Self.nibble(digits[index]), let lo = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
        }
        self.init(bytes: bytes)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A uniformly random id.
    public static func random(using generator: inout some RandomNumberGenerator) -> NodeID {
        NodeID(high: generator.next(), middle: generator.next(), low: UInt32(truncatingIfNeeded: generator.next()))
    }

    /// The 20 bytes, most significant first.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(20)
        append(to: &out)
        return out
    }

    /// Appends the 20 bytes to `out`.
    public func append(to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: high >> shift)) }
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: middle >> shift)) }
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: low >> shift)) }
    }

    /// Byte `index` (0 is the most significant).
    public subscript(byte index: Int) -> UInt8 {
        precondition(index >= 0 && index < 20)
        switch index {
        case 0..<8: return UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
        case 8..<16: return UInt8(truncatingIfNeeded: middle >> (56 - 8 * (index - 8)))
        default: return UInt8(truncatingIfNeeded: low >> (24 - 8 * (index - 16)))
        }
    }

    /// The Kademlia XOR distance to `other`.
    public func distance(to other: NodeID) -> NodeID {
        NodeID(high: high ^ other.high, middle: middle ^ other.middle, low: low ^ other.low)
    }

    /// Number of leading zero bits (160 for the zero id).
    public var leadingZeroBitCount: Int {
        if high != 0 { return high.leadingZeroBitCount }
        if middle != 0 { return 64 + middle.leadingZeroBitCount }
        return 128 + low.leadingZeroBitCount
    }

    /// How many leading bits this id shares with `other` (160 when equal).
    public func commonPrefixLength(with other: NodeID) -> Int { distance(to: other).leadingZeroBitCount }

    /// True if `a` is closer to this id than `b` is (XOR metric).
    @inlinable
    public func isCloser(_ a: NodeID, than b: NodeID) -> Bool { a.distance(to: self) < b.distance(to: self) }

    /// The bit at `index` (0 is the most significant).
    public func bit(_ index: Int) -> Bool {
        precondition(index >= 0 && index < 160)
        switch index {
        case 0..<64: return high >> (63 - index) & 1 == 1
        case 64..<128: return middle >> (127 - index) & 1 == 1
        default: return low >> (159 - index) & 1 == 1
        }
    }

    /// This id with bit `index` flipped.
    public func flippingBit(_ index: Int) -> NodeID {
        precondition(index >= 0 && index < 160)
        var copy = self
        switch index {
        case 0..<64: copy.high ^= 1 << (63 - index)
        case 64..<128: copy.middle ^= 1 << (127 - index)
        default: copy.low ^= 1 << (159 - index)
        }
        return copy
    }

    /// An id that keeps the first `prefixLength` bits of this one and takes the rest from `random`.
    public func keepingPrefix(_ prefixLength: Int, rest random: NodeID) -> NodeID {
        precondition(prefixLength >= 0 && prefixLength <= 160)
        func mask64(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? ~0 : ~0 << (64 - bits) }
        let maskHigh = mask64(prefixLength)
        let maskMiddle = mask64(prefixLength - 64)
        let lowBits = prefixLength - 128
        let maskLow: UInt32 = lowBits <= 0 ? 0 : lowBits >= 32 ? ~0 : ~0 << (32 - lowBits)
        return NodeID(
            high: high & maskHigh | random.high & ~maskHigh,
            middle: middle & maskMiddle | random.middle & ~maskMiddle,
            low: low & maskLow | random.low & ~maskLow)
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        if lhs.high != rhs.high { return lhs.high < rhs.high }
        if lhs.middle != rhs.middle { return lhs.middle < rhs.middle }
        return lhs.low < rhs.low
    }

    /// 40 lowercase hexadecimal digits.
    public var description: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(40)
        for index in 0..<20 {
            let byte = self[byte: index]
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
