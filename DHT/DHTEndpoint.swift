import BTMetainfo
import NIOCore

/// A UDP endpoint of a DHT node or a peer: BTMetainfo's `PeerEndpoint`, the project's one endpoint type (an
/// IPv4 or IPv6 `IPAddress` and a port). The DHT adds the compact forms of BEP 5 (6 bytes) and BEP 32
/// (18 bytes) and the conversions to and from NIO socket addresses.
public typealias DHTEndpoint = PeerEndpoint

extension PeerEndpoint {
    /// The address type of DHT endpoints: BTMetainfo's `IPAddress`.
    public typealias IP = IPAddress

    /// The address (`address`, under the name the DHT's messages give it).
    public var ip: IPAddress { address }

    /// Creates an endpoint.
    public init(ip: IPAddress, port: UInt16) {
        self.init(address: ip, port: port)
    }

    /// Parses a numeric address such as `"127.0.0.1"` (as `IPAddress.init(_:form:)` reads it) with a port;
    /// nil if the address is not an IP literal.
    public init?(_ address: String, port: UInt16) {
        guard let ip = IPAddress(address) else { return nil }
        self.init(address: ip, port: port)
    }

    /// Converts a NIO socket address (IPv4 or IPv6); nil for Unix domain sockets.
    public init?(_ address: SocketAddress) {
        guard let port = address.port, let port16 = UInt16(exactly: port) else { return nil }
        switch address {
        case .v4(let v4):
            self.init(address: .v4(UInt32(bigEndian: v4.address.sin_addr.s_addr)), port: port16)
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            guard let ip = IPAddress(bytes: bytes) else { return nil }
            self.init(address: ip, port: port16)
        default:
            return nil
        }
    }

    /// The NIO socket address for a driver to send to.
    public func socketAddress() throws -> SocketAddress {
        try SocketAddress(packedIPAddress: ByteBuffer(bytes: address.bytes), port: Int(port))
    }

    /// Length of a compact IPv4 endpoint (BEP 5).
    public static let compactV4Length = 6
    /// Length of a compact IPv6 endpoint (BEP 32).
    public static let compactV6Length = 18

    /// The compact form: address bytes then the port, big-endian (6 or 18 bytes).
    public var compact: [UInt8] {
        var out = address.bytes
        out.append(UInt8(port >> 8))
        out.append(UInt8(port & 0xff))
        return out
    }

    /// Reads a compact endpoint of 6 or 18 bytes; nil for any other length.
    public init?(compact bytes: some Collection<UInt8>) {
        guard bytes.count == Self.compactV4Length || bytes.count == Self.compactV6Length else { return nil }
        let array = Array(bytes)
        guard let ip = IPAddress(bytes: array[0..<(array.count - 2)]) else { return nil }
        self.init(address: ip, port: UInt16(array[array.count - 2]) << 8 | UInt16(array[array.count - 1]))
    }
}

extension IPAddress {
    /// True for IPv6.
    public var isV6: Bool { if case .v6 = self { true } else { false } }

    /// True for loopback, private (RFC 1918, RFC 4193) and link-local addresses, which BEP 42 exempts
    /// from the node-id check (they would never match anyway).
    public var isLocal: Bool {
        switch self {
        case .v4(let a):
            let first = a >> 24
            return first == 127 || first == 10 || a & 0xfff0_0000 == 0xac10_0000 || a & 0xffff_0000 == 0xc0a8_0000
                || a & 0xffff_0000 == 0xa9fe_0000
        case .v6(let hi, let lo):
            return (hi == 0 && lo == 1) || hi >> 57 == 0x7e || hi >> 54 == 0x3fa
        }
    }
}

/// A DHT node as the protocol names it: its id and its endpoint (the "compact node info" of BEP 5: 26 bytes
/// for IPv4, 38 for IPv6 per BEP 32).
public struct DHTNodeInfo: Hashable, Sendable, CustomStringConvertible {
    /// The node's id.
    public var id: NodeID
    /// Where it listens.
    public var endpoint: DHTEndpoint

    /// Creates a node description.
    public init(id: NodeID, endpoint: DHTEndpoint) {
        self.id = id
        self.endpoint = endpoint
    }

    /// Appends the compact node info (id then compact endpoint).
    public func appendCompact(to out: inout [UInt8]) {
        id.append(to: &out)
        out.append(contentsOf: endpoint.compact)
    }

    public var description: String { "\(id.description.prefix(8))…@\(endpoint)" }
}
