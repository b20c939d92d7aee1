/// A tracker URL split into the parts the transports need.
package struct TrackerURL: Sendable, Hashable {
    /// The three schemes trackers use.
    package enum Scheme: String, Sendable {
        case http, https, udp
    }

    package var scheme: Scheme
    /// Host name (lower-case) or numeric address, without brackets.
    package var host: String
    package var port: Int
    /// Path and query, starting with `/` (empty path becomes `/`).
    package var pathAndQuery: String

    /// Longest tracker URL accepted.
    package static let maxLength = 4096

    /// Parses `text`; refuses user info, bad ports and characters that have no place in a host name.
    package init(_ text: String) throws(TrackerError) {
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
            guard IPAddressBytes.parse(String(host))?.count == 16 else {
                throw TrackerError(.invalidURL, "bad IPv6 address in tracker URL")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        let hostAllowed = host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._:".contains($0)) }
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
        self.host = host.lowercased()
        self.port = port
        self.pathAndQuery = path
    }

    /// `scheme://host:port`, brackets around IPv6.
    package var origin: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(scheme.rawValue)://\(shownHost):\(port)"
    }
}
