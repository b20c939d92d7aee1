/// Fixed-width 768-bit modular exponentiation modulo the MSE prime, in Montgomery form over 12 × 64-bit
/// limbs (least significant limb first).
///
/// Written by hand because no package available here exposes big-number arithmetic: swift-crypto keeps
/// BoringSSL's `BIGNUM` and its Diffie-Hellman internal (its public API has only elliptic curves), and the
/// MSE/PE key exchange is a classic 768-bit finite-field Diffie-Hellman that every BitTorrent client uses.
/// The modulus is fixed, so the width is fixed: every operand is exactly 12 limbs, all scratch space is one
/// allocation per exponentiation, and the exponent is walked with a fixed 4-bit window (the same sequence
/// of squarings and multiplications for every exponent of a given length, a multiplication by one for a
/// zero nibble).
enum Montgomery768 {
    /// Limbs per number.
    static let limbs = 12

    /// The MSE prime P (the spec's 768-bit safe prime, the Oakley group 1 prime), as limbs.
    static let prime: [UInt64] = limbs(
        fromBigEndian: hexBytes(
            "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563"
        ))

    /// -P⁻¹ mod 2⁶⁴, the Montgomery reduction factor.
    static let n0inv: UInt64 = {
        let p0 = prime[0]
        var inverse: UInt64 = 1
        // Newton's iteration doubles the correct low bits each step: 1 → 64 bits in 6 steps.
        for _ in 0..<6 { inverse = inverse &* (2 &- p0 &* inverse) }
        return 0 &- inverse
    }()

    /// R² mod P with R = 2⁷⁶⁸, to move numbers into Montgomery form.
    static let rSquared: [UInt64] = {
        // R mod P = 2^768 - P (P > 2^767), then 768 modular doublings give R * 2^768 mod P.
        var x = [UInt64](repeating: 0, count: limbs)
        var borrow: UInt64 = 0
        for k in 0..<limbs {
            let (d1, b1) = UInt64(0).subtractingReportingOverflow(prime[k])
            let (d2, b2) = d1.subtractingReportingOverflow(borrow)
            x[k] = d2
            borrow = (b1 ? 1 : 0) + (b2 ? 1 : 0)
        }
        for _ in 0..<768 {
            var carry: UInt64 = 0
            for k in 0..<limbs {
                let next = x[k] >> 63
                x[k] = (x[k] << 1) | carry
                carry = next
            }
            if carry != 0 || !isLess(x, prime) { x = subtract(x, prime) }
        }
        return x
    }()

    /// Whether `a < b` as 12-limb numbers.
    static func isLess(_ a: [UInt64], _ b: [UInt64]) -> Bool {
        for k in stride(from: limbs - 1, through: 0, by: -1) where a[k] != b[k] { return a[k] < b[k] }
        return false
    }

    /// `a - b` modulo 2⁷⁶⁸.
    static func subtract(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        var result = [UInt64](repeating: 0, count: limbs)
        var borrow: UInt64 = 0
        for k in 0..<limbs {
            let (d1, b1) = a[k].subtractingReportingOverflow(b[k])
            let (d2, b2) = d1.subtractingReportingOverflow(borrow)
            result[k] = d2
            borrow = (b1 ? 1 : 0) + (b2 ? 1 : 0)
        }
        return result
    }

    /// Big-endian bytes (at most 96) to limbs.
    static func limbs(fromBigEndian bytes: some Collection<UInt8>) -> [UInt64] {
        var result = [UInt64](repeating: 0, count: limbs)
        for (position, byte) in bytes.reversed().enumerated() where position < limbs * 8 {
            result[position / 8] |= UInt64(byte) << (8 * UInt64(position % 8))
        }
        return result
    }

    /// Limbs to exactly 96 big-endian bytes.
    static func bigEndianBytes(_ limbs: [UInt64]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: Self.limbs * 8)
        for position in 0..<(Self.limbs * 8) {
            result[Self.limbs * 8 - 1 - position] = UInt8(
                truncatingIfNeeded: limbs[position / 8] >> (8 * UInt64(position % 8)))
        }
        return result
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            result.append(UInt8(hexDigit(high) << 4 | hexDigit(low)))
        }
        return result
    }

    private static func hexDigit(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: c - UInt8(ascii: "A") + 10
        }
    }

    /// `base ^ exponent mod P` with `base < P` (12 limbs) and `exponent` as big-endian bytes.
    static func power(_ base: [UInt64], exponent: [UInt8]) -> [UInt64] {
        let n = limbs
        // Scratch layout (limbs): p | t (n + 2) | table (16 n) | acc | tmp | operand
        let total = n + (n + 2) + 16 * n + 3 * n
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: total) { scratch in
            let p = scratch.baseAddress!
            for k in 0..<n { p[k] = prime[k] }
            let t = p + n
            let table = t + n + 2
            let acc = table + 16 * n
            let tmp = acc + n
            let operand = tmp + n
            let factor = n0inv
            // table[1] = base * R mod P; table[0] = R mod P (Montgomery one).
            for k in 0..<n { operand[k] = base[k] }
            for k in 0..<n { tmp[k] = rSquared[k] }
            multiply(table + n, operand, tmp, p, t, factor)
            for k in 0..<n { operand[k] = k == 0 ? 1 : 0 }
            multiply(table, operand, tmp, p, t, factor)
            for entry in 2..<16 {
                multiply(table + entry * n, table + (entry - 1) * n, table + n, p, t, factor)
            }
            for k in 0..<n { acc[k] = table[k] }
            var started = false
            for byte in exponent {
                for half in 0..<2 {
                    let nibble = half == 0 ? byte >> 4 : byte & 0x0f
                    if started {
                        // Four squarings, ping-ponging between acc and tmp and ending in acc.
                        for _ in 0..<2 {
                            multiply(tmp, acc, acc, p, t, factor)
                            multiply(acc, tmp, tmp, p, t, factor)
                        }
                        multiply(tmp, acc, table + Int(nibble) * n, p, t, factor)
                        for k in 0..<n { acc[k] = tmp[k] }
                    } else if nibble != 0 {
                        for k in 0..<n { acc[k] = table[Int(nibble) * n + k] }
                        started = true
                    }
                }
            }
            // Out of Montgomery form: multiply by plain 1.
            for k in 0..<n { operand[k] = k == 0 ? 1 : 0 }
            multiply(tmp, acc, operand, p, t, factor)
            return (0..<n).map { tmp[$0] }
        }
    }

    /// `a * b + t + c` as (high, low): at most (2⁶⁴ − 1)² + 2 (2⁶⁴ − 1) = 2¹²⁸ − 1, so it never overflows.
    /// The carries become integers through a bit cast: `flag ? 1 : 0` compiled to branches that mispredicted
    /// on random data and made the whole exponentiation four times slower.
    @inline(__always)
    static func multiplyAdd(_ a: UInt64, _ b: UInt64, _ t: UInt64, _ c: UInt64) -> (high: UInt64, low: UInt64) {
        let (high, low) = a.multipliedFullWidth(by: b)
        let (s1, o1) = low.addingReportingOverflow(t)
        let (s2, o2) = s1.addingReportingOverflow(c)
        return (high &+ bit(o1) &+ bit(o2), s2)
    }

    @inline(__always)
    static func bit(_ flag: Bool) -> UInt64 { UInt64(unsafeBitCast(flag, to: UInt8.self)) }

    /// Montgomery product `r = a * b * R⁻¹ mod P` (CIOS: coarsely integrated operand scanning).
    /// `r` may alias neither `a` nor `b`; `t` is n + 2 limbs of scratch. Inputs below P give an output
    /// below P.
    @inline(__always)
    static func multiply(
        _ r: UnsafeMutablePointer<UInt64>, _ a: UnsafePointer<UInt64>, _ b: UnsafePointer<UInt64>,
        _ p: UnsafePointer<UInt64>, _ t: UnsafeMutablePointer<UInt64>, _ factor: UInt64
    ) {
        let n = 12
        t.update(repeating: 0, count: n + 2)
        for i in 0..<n {
            let bi = b[i]
            var carry: UInt64 = 0
            for j in 0..<n {
                (carry, t[j]) = multiplyAdd(a[j], bi, t[j], carry)
            }
            let (top, topCarry) = t[n].addingReportingOverflow(carry)
            t[n] = top
            t[n + 1] = bit(topCarry)
            let m = t[0] &* factor
            (carry, _) = multiplyAdd(m, p[0], t[0], 0)
            for j in 1..<n {
                (carry, t[j - 1]) = multiplyAdd(m, p[j], t[j], carry)
            }
            let (last, lastCarry) = t[n].addingReportingOverflow(carry)
            t[n - 1] = last
            t[n] = t[n + 1] &+ bit(lastCarry)
        }
        // t < 2P: subtract P once, keep the difference unless it borrowed past t's top limb.
        var borrow: UInt64 = 0
        for k in 0..<n {
            let (d1, b1) = t[k].subtractingReportingOverflow(p[k])
            let (d2, b2) = d1.subtractingReportingOverflow(borrow)
            r[k] = d2
            borrow = bit(b1) | bit(b2)
        }
        // Keep t when the subtraction went negative: a borrow out of the low n limbs not covered by t[n].
        let keepT: UInt64 = 0 &- bit(borrow > t[n])
        for k in 0..<n { r[k] = (r[k] & ~keepT) | (t[k] & keepT) }
    }
}
