/// BEP 42 (DHT security extension): node ids derived from the node's external IP address, so that one
/// machine cannot choose ids next to a target to capture it (a Sybil attack).
///
/// The first 21 bits of the id are the top 21 bits of `crc32c((ip & mask) | (r << 29))`, and the last byte
/// is `r` (only its 3 low bits enter the hash). Local addresses are exempt, as in libtorrent's `verify_id`.
public enum SecureNodeID {
    static let v4Mask: [UInt8] = [0x03, 0x0f, 0x3f, 0xff]
    static let v6Mask: [UInt8] = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff]

    /// The 32-bit CRC-32C prefix BEP 42 computes for `ip` with the random value `r`.
    public static func prefix(for ip: DHTEndpoint.IP, random r: UInt8) -> UInt32 {
        let mask = ip.isV6 ? v6Mask : v4Mask
        var bytes = Array(ip.bytes.prefix(mask.count))
        for index in bytes.indices { bytes[index] &= mask[index] }
        bytes[0] |= (r & 0x7) << 5
        return CRC32C.checksum(bytes)
    }

    /// A node id valid for `ip` under BEP 42: the CRC prefix, random middle bits and `r` as the last byte.
    public static func generate(for ip: DHTEndpoint.IP, using generator: inout some RandomNumberGenerator) -> NodeID {
        let r = UInt8.random(in: 0...255, using: &generator)
        return generate(for: ip, random: r, rest: NodeID.random(using: &generator))
    }

    /// The id for `ip` with a given `r` and the other bits taken from `rest` (deterministic; for tests and for
    /// callers with their own randomness).
    public static func generate(for ip: DHTEndpoint.IP, random r: UInt8, rest: NodeID) -> NodeID {
        let crc = prefix(for: ip, random: r)
        var bytes = rest.bytes
        bytes[0] = UInt8(truncatingIfNeeded: crc >> 24)
        bytes[1] = UInt8(truncatingIfNeeded: crc >> 16)
        bytes[2] = UInt8(truncatingIfNeeded: crc >> 8) & 0xf8 | bytes[2] & 0x07
        bytes[19] = r
        return NodeID(bytes: bytes)!
    }

    /// True if `id` is acceptable from `ip`: its first 21 bits match the CRC prefix for `ip` and its last
    /// byte, or `ip` is a local address (loopback, private, link-local).
    public static func isValid(_ id: NodeID, for ip: DHTEndpoint.IP) -> Bool {
        if ip.isLocal { return true }
        let crc = prefix(for: ip, random: id[byte: 19])
        return id[byte: 0] == UInt8(truncatingIfNeeded: crc >> 24)
            && id[byte: 1] == UInt8(truncatingIfNeeded: crc >> 16)
            && id[byte: 2] & 0xf8 == UInt8(truncatingIfNeeded: crc >> 8) & 0xf8
    }
}
