/// An address and port: where a peer or tracker listens, or where a connection comes from.
public struct PeerEndpoint: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The IP address.
    public let address: IPAddress
    /// The TCP or UDP port.
    public let port: UInt16

    /// Creates an endpoint.
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `1.2.3.4:6881` or `[2001:db8::1]:6881`.
    public var description: String {
        switch address {
        case .v4: return "\(address):\(port)"
        case .v6: return "[\(address)]:\(port)"
        }
    }

    /// By address (IPv4 before IPv6, then numerically), then port: a stable order for tables.
    public static func < (lhs: PeerEndpoint, rhs: PeerEndpoint) -> Bool {
        (lhs.address, lhs.port) < (rhs.address, rhs.port)
    }
}
