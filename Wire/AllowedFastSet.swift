/// The BEP 6 allowed-fast set: pieces a peer may request from us while choked, derived from its address so
/// that every peer behind one /24 gets the same set.
public enum AllowedFastSet {
    /// Computes `count` piece indexes for the IPv4 address `ipv4` (4 bytes) and the 20-byte info-hash, with
    /// the algorithm of BEP 6 ("Allowed Fast"): SHA-1 over the /24-masked address and the info-hash,
    /// repeated, each 4-byte word taken modulo the piece count, duplicates skipped. Returns indexes in the
    /// order generated; when the torrent has no more than `count` pieces, every piece is returned.
    public static func generate(count: Int, pieceCount: Int, infoHash: [UInt8], ipv4: [UInt8]) -> [Int] {
        precondition(infoHash.count == 20 && ipv4.count == 4)
        guard pieceCount > 0, count > 0 else { return [] }
        let wanted = min(count, pieceCount)
        var result: [Int] = []
        var seen = Set<Int>()
        var x = [ipv4[0], ipv4[1], ipv4[2], 0] + infoHash
        while result.count < wanted {
            x = SHA1.hash(x)
            var i = 0
            while i < 5 && result.count < wanted {
                let word =
                    UInt32(x[i * 4]) << 24 | UInt32(x[i * 4 + 1]) << 16 | UInt32(x[i * 4 + 2]) << 8
                    | UInt32(x[i * 4 + 3])
                let index = Int(word % UInt32(truncatingIfNeeded: pieceCount))
                if seen.insert(index).inserted { result.append(index) }
                i += 1
            }
        }
        return result
    }
}

/// A small SHA-1 (FIPS 180-4) for the allowed-fast set, which hashes 24 bytes at a time: BTWire may not depend
/// on a crypto library (codec modules depend on NIOCore and BTMetainfo only).
enum SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (
            0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0
        )
        var data = message
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) &* 8
        for shift in stride(from: 56, through: 0, by: -8) {
            data.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
        }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for t in 0..<16 {
                let b = chunk + t * 4
                w[t] =
                    UInt32(data[b]) << 24 | UInt32(data[b + 1]) << 16 | UInt32(data[b + 2]) << 8 | UInt32(data[b + 3])
            }
            for t in 16..<80 {
                let v = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
                w[t] = v << 1 | v >> 31
            }
            var (a, b, c, d, e) = h
            for t in 0..<80 {
                var f: UInt32 = 0
                var k: UInt32 = 0
                switch t {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t]
                e = d
                d = c
                c = b << 30 | b >> 2
                b = a
                a = temp
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        var out: [UInt8] = []
        for word in [h.0, h.1, h.2, h.3, h.4] {
            out += [
                UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8),
                UInt8(truncatingIfNeeded: word),
            ]
        }
        return out
    }
}
