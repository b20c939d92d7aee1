/// A host (a name, an IPv4 or an IPv6 address) and a port, written `host:port` or `[v6]:port`: a magnet's
/// `x.pe` peer, `nbt --peer`, a DHT bootstrap node. The one parser of that text in the project.
public struct HostAndPort: Hashable, Sendable, CustomStringConvertible {
    /// Host name or address (IPv6 without brackets).
    public var host: String
    /// TCP or UDP port.
    public var port: Int

    /// Creates a host and port.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Why a text is not a host and port.
    public enum ParseFailure: Error, Hashable, Sendable {
        /// Not `host:port` or `[address]:port` (an IPv6 address with a port needs its brackets).
        case shape
        /// The host is empty or holds a bracket or a slash.
        case host
        /// The port is not a number from 1 to 65535.
        case port
    }

    /// Reads `host:port` or `[v6]:port` strictly: an unbracketed text with more than one colon is refused
    /// (an IPv6 address and a port cannot be told apart), as are an empty host and a port outside 1–65535.
    public static func parse(_ text: String) -> Result<HostAndPort, ParseFailure> {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(.shape)
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return .failure(.shape) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains("["), !host.contains("]"), !host.contains("/") else {
            return .failure(.host)
        }
        guard portText.utf8.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText),
            port > 0 && port < 65536
        else { return .failure(.port) }
        return .success(HostAndPort(host: String(host), port: port))
    }

    /// `host:port`, with IPv6 addresses in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The host and port as the project's endpoint type when the host is a numeric address (read as the
    /// resolver reads it, ``IPAddress/init(_:form:)``); nil for a host name, which must be resolved first.
    public var endpoint: PeerEndpoint? {
        guard let address = IPAddress(host), let port = UInt16(exactly: port) else { return nil }
        return PeerEndpoint(address: address, port: port)
    }
}
