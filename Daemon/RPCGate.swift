import Foundation

/// The checks every HTTP request to the RPC endpoint passes before its body is read (`docs/rpc-spec.md`
/// §2.3), in Transmission's order: Basic authentication (401), the Host whitelist against DNS rebinding
/// (421), the `X-Transmission-Session-Id` CSRF token (409 with the right id), and the body size (413).
/// Pure: it sees the request's head only, so tests check every refusal without a socket.
public struct RPCGate: Sendable {
    /// The gate's settings.
    public struct Configuration: Sendable {
        /// Most bytes of a request body (a base64 .torrent travels in it).
        public var maximumBodyBytes: Int = 16 << 20
        /// Host names allowed besides `localhost` and IP literals (Transmission's `rpc-host-whitelist`).
        public var allowedHosts: Set<String> = []
        /// Whether the Host header is checked at all.
        public var hostWhitelistEnabled: Bool = true
        /// User name and password for Basic authentication; nil: no authentication.
        public var credentials: (user: String, password: String)?
        /// Default settings.
        public init() {}
    }

    /// What to do with a request.
    public enum Decision: Sendable, Hashable {
        /// Read its body and dispatch it.
        case pass
        /// Answer at once with this status, extra headers and plain-text body, without reading the body.
        case refuse(status: Int, headers: [String: String], body: String)
    }

    /// The CSRF token clients must echo (one per daemon run).
    public let sessionID: String
    /// The settings.
    public let configuration: Configuration

    /// The header carrying the token.
    public static let sessionHeader = "X-Transmission-Session-Id"

    /// A gate with a fresh random session id (or the given one, for tests).
    public init(configuration: Configuration, sessionID: String? = nil) {
        self.configuration = configuration
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        self.sessionID =
            sessionID ?? String((0..<48).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Decides on a request to the RPC endpoint from its headers (names matched case-insensitively by the
    /// caller, values as received) and its declared body length.
    public func admit(host: String?, authorization: String?, sessionIDHeader: String?, contentLength: Int?) -> Decision
    {
        if let credentials = configuration.credentials, !Self.authorized(authorization, credentials) {
            return .refuse(
                status: 401, headers: ["WWW-Authenticate": "Basic realm=\"Transmission\""],
                body: "<h1>401: Unauthorized</h1>Unauthorized User")
        }
        if configuration.hostWhitelistEnabled && !hostAllowed(host) {
            return .refuse(
                status: 421, headers: [:],
                body:
                    "<h1>421: Misdirected Request</h1><p>Transmission received your request, but the hostname was unrecognized.</p>"
            )
        }
        if sessionIDHeader != sessionID {
            return .refuse(
                status: 409, headers: [Self.sessionHeader: sessionID],
                body: "<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p>"
                    + "<p><code>\(Self.sessionHeader): \(sessionID)</code></p>")
        }
        if let contentLength, contentLength > configuration.maximumBodyBytes {
            return Self.tooLarge
        }
        return .pass
    }

    /// The answer to a body that grew past ``Configuration/maximumBodyBytes``.
    public static let tooLarge = Decision.refuse(status: 413, headers: [:], body: "<h1>413: Payload Too Large</h1>")

    /// Whether a Host header names this server: `localhost`, `localhost.`, any IP literal, or a whitelisted
    /// name (the port stripped, case ignored). A request without Host is refused.
    public func hostAllowed(_ header: String?) -> Bool {
        guard let header, !header.isEmpty, header.utf8.count <= 255 else { return false }
        var name = header.lowercased()
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return false }
            let literal = String(name[name.index(after: name.startIndex)..<close])
            return IPv6Literal.isValid(literal)
        }
        if let colon = name.lastIndex(of: ":") {
            guard name[name.index(after: colon)...].allSatisfy(\.isNumber) else { return false }
            name = String(name[..<colon])
        }
        if name == "localhost" || name == "localhost." { return true }
        if Self.isIPv4(name) { return true }
        return configuration.allowedHosts.contains(name)
    }

    private static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber)
                    && Int(part).map { $0 <= 255 } == true
            }
    }

    private static func authorized(_ header: String?, _ credentials: (user: String, password: String)) -> Bool {
        guard let header, header.utf8.count <= 1024 else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return false }
        let user = String(text[..<colon])
        let password = String(text[text.index(after: colon)...])
        // Compared in full whatever the first difference, so timing does not tell how much was right.
        return constantTimeEqual(user, credentials.user) && constantTimeEqual(password, credentials.password)
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}

/// IPv6 literal syntax, checked by `inet_pton`.
enum IPv6Literal {
    static func isValid(_ text: String) -> Bool {
        var address = in6_addr()
        return text.withCString { inet_pton(AF_INET6, $0, &address) } == 1
    }
}
