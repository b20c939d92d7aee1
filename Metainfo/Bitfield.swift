/// A fixed-size set of piece indexes, stored the way the wire protocol sends it (BEP 3 `bitfield`):
/// byte 0's high bit is piece 0, spare bits in the last byte are zero.
///
/// Shared by the wire protocol (a peer's pieces), storage (verified pieces, resume data) and the engine
/// (piece picking), so it lives in the lowest layer that knows what a piece is.
public struct Bitfield: Hashable, Sendable {
    /// Number of bits (pieces).
    public let count: Int
    /// Packed bits, `(count + 7) / 8` bytes, spare bits zero.
    public private(set) var bytes: [UInt8]
    /// Number of set bits, maintained incrementally.
    public private(set) var setCount: Int

    /// A bitfield of `count` bits, all clear (or all set when `allSet`).
    public init(count: Int, allSet: Bool = false) {
        precondition(count >= 0)
        self.count = count
        self.bytes = [UInt8](repeating: allSet ? 0xff : 0, count: (count + 7) / 8)
        self.setCount = allSet ? count : 0
        if allSet, count % 8 != 0 { bytes[bytes.count - 1] = 0xff << (8 - UInt8(count % 8)) }
    }

    /// Reads a bitfield in wire format; nil when the length is wrong or a spare bit is set (BEP 3 says a
    /// peer sending either should be dropped).
    public init?(bytes: some Collection<UInt8>, count: Int) {
        guard count >= 0, bytes.count == (count + 7) / 8 else { return nil }
        let array = Array(bytes)
        if count % 8 != 0, let last = array.last, last & (0xff >> UInt8(count % 8)) != 0 { return nil }
        self.count = count
        self.bytes = array
        self.setCount = array.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    /// Whether bit `index` is set. Out-of-range indexes read as clear.
    public subscript(index: Int) -> Bool {
        get {
            guard index >= 0 && index < count else { return false }
            return bytes[index >> 3] & (0x80 >> UInt8(index & 7)) != 0
        }
        set {
            precondition(index >= 0 && index < count, "bit index out of range")
            let mask: UInt8 = 0x80 >> UInt8(index & 7)
            let old = bytes[index >> 3] & mask != 0
            guard old != newValue else { return }
            if newValue {
                bytes[index >> 3] |= mask
                setCount += 1
            } else {
                bytes[index >> 3] &= ~mask
                setCount -= 1
            }
        }
    }

    /// Every bit is set (a seed's bitfield).
    public var isAllSet: Bool { setCount == count }
    /// No bit is set.
    public var isNoneSet: Bool { setCount == 0 }

    /// Indexes of the set bits, ascending.
    public var setIndexes: [Int] {
        var result: [Int] = []
        result.reserveCapacity(setCount)
        for (byteIndex, byte) in bytes.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (0x80 >> UInt8(bit)) != 0 { result.append(byteIndex * 8 + bit) }
        }
        return result
    }

    /// Bits set here and not in `other` (same count required).
    public func subtracting(_ other: Bitfield) -> Bitfield {
        precondition(other.count == count)
        var result = self
        for i in bytes.indices { result.bytes[i] = bytes[i] & ~other.bytes[i] }
        result.setCount = result.bytes.reduce(0) { $0 + $1.nonzeroBitCount }
        return result
    }

    /// Bits set here or in `other` (same count required).
    public func union(_ other: Bitfield) -> Bitfield {
        precondition(other.count == count)
        var result = self
        for i in bytes.indices { result.bytes[i] = bytes[i] | other.bytes[i] }
        result.setCount = result.bytes.reduce(0) { $0 + $1.nonzeroBitCount }
        return result
    }
}
