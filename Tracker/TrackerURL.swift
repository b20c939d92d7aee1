import BTMetainfo

/// A tracker URL split into the parts the transports need, as ``TrackerClient`` reads it before contacting
/// anything: the scheme, the host (a numeric host already replaced by the address the resolver reads it
/// as), the port and the path with its query.
///
/// ```swift
/// let url = try TrackerURL("udp://012.0.0.1:6969/announce")
/// print(url.host)  // 10.0.0.1
/// ```
public struct TrackerURL: Sendable, Hashable {
    /// The three schemes trackers use.
    public enum Scheme: String, Sendable {
        /// Plain HTTP (BEP 3).
        case http
        /// HTTP over TLS.
        case https
        /// The UDP tracker protocol (BEP 15).
        case udp
    }

    /// The scheme.
    public var scheme: Scheme
    /// Host name (lower-case), or a numeric address in its canonical text (`IPAddress.description`, without
    /// brackets): a numeric host in any form `getaddrinfo` reads (`012.0.0.1`, `0x7f.1`, `2130706433`) is
    /// replaced by the address that form stands for, so every later step sees and connects to one address.
    public var host: String
    /// The port (the scheme's default when the URL names none; UDP URLs must name one).
    public var port: Int
    /// Path and query, starting with `/` (empty path becomes `/`), without the fragment.
    public var pathAndQuery: String

    /// Longest tracker URL accepted.
    public static let maxLength = 4096

    /// Parses `text`; refuses user info, bad ports and characters that have no place in a host name.
    /// - Throws: ``TrackerError`` with code ``TrackerError/Code/invalidURL``.
    public init(_ text: String) throws(TrackerError) {
        guard text.utf8.count <= Self.maxLength, let colon = text.firstIndex(of: ":"),
            text[colon...].hasPrefix("://")
        else {
            throw TrackerError(.invalidURL, "not a tracker URL: \(text.prefix(200))")
        }
        guard let scheme = Scheme(rawValue: text[..<colon].lowercased()) else {
            throw TrackerError(.invalidURL, "unsupported tracker scheme in \(text.prefix(200))")
        }
        let rest = text[text.index(colon, offsetBy: 3)...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if let fragment = path.firstIndex(of: "#") { path = String(path[..<fragment]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        guard !authority.contains("@") else { throw TrackerError(.invalidURL, "user info in tracker URL") }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw TrackerError(.invalidURL, "unclosed [ in host")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw TrackerError(.invalidURL, "junk after IPv6 host") }
                portText = after.dropFirst()
            }
            guard case .v6? = IPAddress(host) else {
                throw TrackerError(.invalidURL, "bad IPv6 address in tracker URL")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        // A colon belongs only in a bracketed IPv6 host (RFC 3986 section 3.2.2).
        let bracketed = authority.hasPrefix("[")
        let hostAllowed = host.allSatisfy {
            $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0) || (bracketed && $0 == ":"))
        }
        guard !host.isEmpty, host.count <= 253, hostAllowed else {
            throw TrackerError(.invalidURL, "bad host in tracker URL: \(host.prefix(100))")
        }
        let port: Int
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw TrackerError(.invalidURL, "bad port in tracker URL: \(portText.prefix(20))")
            }
            port = value
        } else {
            switch scheme {
            case .http: port = 80
            case .https: port = 443
            case .udp: throw TrackerError(.invalidURL, "a UDP tracker URL needs a port")
            }
        }
        self.scheme = scheme
        self.host = IPAddress(host).map(\.description) ?? host.lowercased()
        self.port = port
        self.pathAndQuery = path
    }

    /// The path without the query: `/announce` of `/announce?passkey=1`.
    public var path: Substring { pathAndQuery.prefix { $0 != "?" } }

    /// Whether the URL carries a query of its own.
    public var hasQuery: Bool { pathAndQuery.contains("?") }

    /// `scheme://host:port`, brackets around IPv6.
    public var origin: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(scheme.rawValue)://\(shownHost):\(port)"
    }
}
