/// A peer address returned by a tracker.
public struct TrackerPeer: Hashable, Sendable, CustomStringConvertible {
    /// A numeric IPv4 or IPv6 address, or (dictionary peer lists only) a host name.
    public var host: String
    /// TCP port.
    public var port: Int
    /// The peer id, when the tracker sent a dictionary peer list that carried one.
    public var peerID: [UInt8]?

    /// Creates a peer address.
    public init(host: String, port: Int, peerID: [UInt8]? = nil) {
        self.host = host
        self.port = port
        self.peerID = peerID
    }

    /// `host:port`, with brackets around IPv6 addresses.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Decodes BEP 23 compact IPv4 peers (6 bytes each) or BEP 7 compact IPv6 peers (18 bytes each).
    /// A trailing partial entry is ignored, as libtorrent does.
    package static func decodeCompact(_ bytes: some Collection<UInt8>, ipv6: Bool) -> [TrackerPeer] {
        let bytes = Array(bytes)
        let stride = ipv6 ? 18 : 6
        var peers: [TrackerPeer] = []
        peers.reserveCapacity(bytes.count / stride)
        var offset = 0
        while offset + stride <= bytes.count {
            let address = bytes[offset..<(offset + stride - 2)]
            let port = Int(bytes[offset + stride - 2]) << 8 | Int(bytes[offset + stride - 1])
            let host = ipv6 ? IPAddressText.ipv6(address) : IPAddressText.ipv4(address)
            peers.append(TrackerPeer(host: host, port: port))
            offset += stride
        }
        return peers
    }
}

/// Text forms of binary IP addresses.
package enum IPAddressText {
    /// Dotted quad of 4 bytes.
    package static func ipv4(_ bytes: some Collection<UInt8>) -> String {
        bytes.map(String.init).joined(separator: ".")
    }

    /// RFC 5952 text of 16 bytes (lower-case, longest run of zero groups compressed).
    package static func ipv6(_ bytes: some Collection<UInt8>) -> String {
        let b = Array(bytes)
        var groups: [UInt16] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(b[i]) << 8 | UInt16(b[i + 1])) }
        // IPv4-mapped addresses read better as ::ffff:a.b.c.d.
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xffff {
            return "::ffff:" + ipv4(b[12..<16])
        }
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index > bestLength && end - index >= 2 {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            } else {
                index += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
