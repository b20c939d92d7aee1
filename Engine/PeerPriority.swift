import BTMetainfo

/// BEP 40 canonical peer priority: a number that both ends of a connection compute alike from their two
/// endpoints, `crc32-c(sort(masked_client_ip, masked_peer_ip))`, so every peer of a swarm agrees which
/// connections matter more. A peer whose slots are full lets a newcomer in by dropping its lowest-priority
/// connection when the newcomer's priority is higher (libtorrent's `attach_peer` with `peer_rank`): newcomers
/// get into a swarm whose every peer is full, and a flood of connections from one network only displaces its
/// fair share.
///
/// Masks (BEP 40): an IPv4 address keeps its first two bytes and `0x55` of the others, one more whole byte
/// for each further byte the two addresses share (a shared /16 gives `FF.FF.FF.55`, a shared /24 the whole
/// address); IPv6 starts from six whole bytes and, as libtorrent does, keeps whole the first byte that
/// differs and the one after it. Identical addresses hash their two ports instead.
public enum PeerPriority {
    /// The priority of a connection between `a` and `b` (symmetric: the order of the two does not matter).
    public static func of(_ a: PeerEndpoint, _ b: PeerEndpoint) -> UInt32 {
        var first = a.address.unmapped
        var second = b.address.unmapped
        if first == second {
            let ports = [a.port, b.port].sorted()
            return crc32c(ports.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] })
        }
        if first.bitWidth != second.bitWidth {
            // One of each family: compare them as IPv6 (the IPv4 one mapped).
            first = mapped(first)
            second = mapped(second)
        }
        let x = first.bytes
        let y = second.bytes
        let shared = zip(x, y).prefix { $0 == $1 }.count
        // IPv6 keeps one byte more past the shared prefix than the BEP's text says: libtorrent's rule
        // (`torrent_peer.cpp`), which both ends must agree on.
        let whole = x.count == 4 ? max(2, shared + 1) : max(6, shared + 2)
        let masked = [x, y].map { bytes in
            bytes.enumerated().map { index, byte in index < whole ? byte : byte & 0x55 }
        }
        let (low, high) =
            masked[0].lexicographicallyPrecedes(masked[1]) ? (masked[0], masked[1]) : (masked[1], masked[0])
        return crc32c(low + high)
    }

    /// `address` as IPv6 (`::ffff:a.b.c.d` for an IPv4 one).
    static func mapped(_ address: IPAddress) -> IPAddress {
        guard case .v4(let value) = address else { return address }
        return .v6(high: 0, low: 0xffff_0000_0000 | UInt64(value))
    }

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as BEP 40 names.
    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8)
        }
        return ~crc
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0x82F6_3B78 : value >> 1 }
        return value
    }
}
