/// A torrent's identity: the SHA-1 of the info dictionary (v1), the SHA-256 of it (v2, BEP 52), or both
/// (hybrid). Both are computed over the info dictionary's bytes exactly as they appeared in the file.
public struct InfoHashes: Hashable, Sendable, CustomStringConvertible {
    /// The 20-byte SHA-1 info-hash (v1 and hybrid torrents).
    public let v1: [UInt8]?
    /// The 32-byte SHA-256 info-hash (v2 and hybrid torrents).
    public let v2: [UInt8]?

    /// Creates info-hashes; at least one must be given, with the right length.
    public init(v1: [UInt8]?, v2: [UInt8]?) {
        precondition(v1 != nil || v2 != nil, "a torrent has at least one info-hash")
        precondition(v1.map { $0.count == 20 } ?? true, "v1 info-hash is 20 bytes")
        precondition(v2.map { $0.count == 32 } ?? true, "v2 info-hash is 32 bytes")
        self.v1 = v1
        self.v2 = v2
    }

    /// The 20 bytes used on the wire, in tracker announces and in the DHT: the v1 hash when there is one,
    /// else the v2 hash truncated to 20 bytes (BEP 52).
    public var wire: [UInt8] { v1 ?? Array(v2![0..<20]) }

    /// The v2 hash truncated to 20 bytes, used when a hybrid torrent is announced as v2.
    public var v2Truncated: [UInt8]? { v2.map { Array($0[0..<20]) } }

    /// Lower-case hex of ``wire``.
    public var description: String { NetBitTorrentHex.encode(wire) }

    /// Lower-case hexadecimal of some bytes.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String { NetBitTorrentHex.encode(bytes) }
}

/// Hex helpers shared by the modules.
package enum NetBitTorrentHex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Lower-case hexadecimal.
    package static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hexadecimal (either case); nil on odd length or a non-hex character.
    package static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
