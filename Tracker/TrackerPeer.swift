import BTMetainfo

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
            let host = IPAddress(bytes: address)!.description
            peers.append(TrackerPeer(host: host, port: port))
            offset += stride
        }
        return peers
    }
}
