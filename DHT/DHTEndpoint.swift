import NIOCore

/// A UDP endpoint of a DHT node or a peer: an IPv4 or IPv6 address and a port, with the compact forms of
/// BEP 5 (6 bytes) and BEP 32 (18 bytes).
public struct DHTEndpoint: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// An IP address without a port.
    public enum IP: Hashable, Comparable, Sendable, CustomStringConvertible {
        /// An IPv4 address as a big-endian number (127.0.0.1 is 0x7f00_0001).
        case v4(UInt32)
        /// An IPv6 address as two big-endian halves.
        case v6(UInt64, UInt64)

        /// The address bytes in network order (4 or 16).
        public var bytes: [UInt8] {
            switch self {
            case .v4(let a): return (0..<4).map { UInt8(truncatingIfNeeded: a >> (24 - 8 * $0)) }
            case .v6(let hi, let lo):
                return (0..<8).map { UInt8(truncatingIfNeeded: hi >> (56 - 8 * $0)) }
                    + (0..<8).map { UInt8(truncatingIfNeeded: lo >> (56 - 8 * $0)) }
            }
        }

        /// Builds an address from 4 or 16 network-order bytes.
        public init?(bytes: some Collection<UInt8>) {
            switch bytes.count {
            case 4: self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
            case 16:
                let hi = bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let lo = bytes.dropFirst(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                self = .v6(hi, lo)
            default: return nil
            }
        }

        /// Parses dotted-quad IPv4 or textual IPv6; nil otherwise.
        public init?(_ text: String) {
            guard let address = try? SocketAddress(ipAddress: text, port: 0), let ip = DHTEndpoint(address)?.ip
            else { return nil }
            self = ip
        }

        /// IPv4 before IPv6, then by number (so tables can be walked in a stable order).
        public static func < (lhs: IP, rhs: IP) -> Bool {
            switch (lhs, rhs) {
            case (.v4(let a), .v4(let b)): a < b
            case (.v4, .v6): true
            case (.v6, .v4): false
            case (.v6(let a, let b), .v6(let c, let d)): (a, b) < (c, d)
            }
        }

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

        public var description: String {
            switch self {
            case .v4:
                return bytes.map(String.init).joined(separator: ".")
            case .v6:
                let b = bytes
                return stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }
                    .joined(separator: ":")
            }
        }
    }

    /// The address.
    public var ip: IP
    /// The UDP (or, for peers, TCP) port.
    public var port: UInt16

    /// Creates an endpoint.
    public init(ip: IP, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// Parses an address such as `"127.0.0.1"` with a port; nil if the address is not an IP literal.
    public init?(_ address: String, port: UInt16) {
        guard let ip = IP(address) else { return nil }
        self.init(ip: ip, port: port)
    }

    /// Converts a NIO socket address (IPv4 or IPv6); nil for Unix domain sockets.
    public init?(_ address: SocketAddress) {
        guard let port = address.port, let port16 = UInt16(exactly: port) else { return nil }
        switch address {
        case .v4(let v4):
            self.init(ip: .v4(UInt32(bigEndian: v4.address.sin_addr.s_addr)), port: port16)
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            guard let ip = IP(bytes: bytes) else { return nil }
            self.init(ip: ip, port: port16)
        default:
            return nil
        }
    }

    /// The NIO socket address for a driver to send to.
    public func socketAddress() throws -> SocketAddress {
        try SocketAddress(packedIPAddress: ByteBuffer(bytes: ip.bytes), port: Int(port))
    }

    /// By address, then port.
    public static func < (lhs: DHTEndpoint, rhs: DHTEndpoint) -> Bool { (lhs.ip, lhs.port) < (rhs.ip, rhs.port) }

    /// Length of a compact IPv4 endpoint (BEP 5).
    public static let compactV4Length = 6
    /// Length of a compact IPv6 endpoint (BEP 32).
    public static let compactV6Length = 18

    /// The compact form: address bytes then the port, big-endian (6 or 18 bytes).
    public var compact: [UInt8] {
        var out = ip.bytes
        out.append(UInt8(port >> 8))
        out.append(UInt8(port & 0xff))
        return out
    }

    /// Reads a compact endpoint of 6 or 18 bytes; nil for any other length.
    public init?(compact bytes: some Collection<UInt8>) {
        guard bytes.count == Self.compactV4Length || bytes.count == Self.compactV6Length else { return nil }
        let array = Array(bytes)
        guard let ip = IP(bytes: array[0..<(array.count - 2)]) else { return nil }
        self.init(ip: ip, port: UInt16(array[array.count - 2]) << 8 | UInt16(array[array.count - 1]))
    }

    public var description: String {
        ip.isV6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
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
