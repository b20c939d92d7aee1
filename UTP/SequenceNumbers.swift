/// Comparisons of 16-bit sequence numbers and 32-bit microsecond timestamps that wrap around
/// (BEP 29: "all sequence numbers and timestamps wrap").
///
/// A number is before another if the distance forward from it is less than half the space, as libutp's
/// `wrapping_compare_less` and libtorrent's `compare_less_wrap`.
enum Wrapping {
    /// Whether `a` comes before `b` in 16-bit sequence space.
    @inline(__always)
    static func isBefore(_ a: UInt16, _ b: UInt16) -> Bool { Int16(bitPattern: a &- b) < 0 }

    /// How far `b` is after `a` in 16-bit sequence space (0 ..< 65,536).
    @inline(__always)
    static func distance(from a: UInt16, to b: UInt16) -> Int { Int(b &- a) }

    /// Whether `a` comes before `b` on a 32-bit microsecond clock.
    @inline(__always)
    static func isBefore(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
}
