/// Which hosts a tracker URL may make this client contact: the request-forgery (SSRF) guard.
///
/// A tracker URL comes from an untrusted .torrent or magnet link. Without a policy, a crafted torrent could
/// make the client send GET requests or UDP packets to services on the user's local network (a router's
/// admin page, say). The policy is checked on every address a host name resolves to, on every redirect hop,
/// and the transport then connects to the checked address (no second resolution for UDP and plain HTTP).
///
/// The default refuses private (RFC 1918, RFC 4193, carrier-grade NAT), link-local, unspecified, multicast and
/// reserved addresses, and allows loopback (tests and local swarms) and public addresses.
public struct TrackerAddressPolicy: Sendable, Hashable {
    /// Allow 127.0.0.0/8 and ::1.
    public var allowLoopback: Bool
    /// Allow 10/8, 172.16/12, 192.168/16, 100.64/10 and fc00::/7.
    public var allowPrivate: Bool
    /// Allow 169.254/16 and fe80::/10.
    public var allowLinkLocal: Bool
    /// Host names or literal addresses (lower-case) always allowed, whatever they resolve to.
    public var allowedHosts: Set<String>

    /// Creates a policy.
    public init(
        allowLoopback: Bool = true, allowPrivate: Bool = false, allowLinkLocal: Bool = false,
        allowedHosts: Set<String> = []
    ) {
        self.allowLoopback = allowLoopback
        self.allowPrivate = allowPrivate
        self.allowLinkLocal = allowLinkLocal
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
    }

    /// The default: loopback and public addresses only.
    public static let `default` = TrackerAddressPolicy()
    /// Allows every unicast address (for a user who trusts the torrent, or a LAN tracker).
    public static let allowAll = TrackerAddressPolicy(allowLoopback: true, allowPrivate: true, allowLinkLocal: true)

    /// The kinds of address the policy distinguishes.
    public enum AddressClass: Sendable, Hashable {
        /// 127.0.0.0/8, ::1.
        case loopback
        /// RFC 1918, 100.64/10, fc00::/7.
        case privateNetwork
        /// 169.254/16, fe80::/10.
        case linkLocal
        /// 0.0.0.0/8, :: — reaches the local host on Linux.
        case unspecified
        /// Multicast, broadcast and reserved ranges.
        case reserved
        /// Everything else.
        case publicNetwork
    }

    /// Classifies a 4- or 16-byte address; IPv4-mapped IPv6 addresses are classified as their IPv4 address.
    public static func classify(_ address: [UInt8]) -> AddressClass {
        if address.count == 16 {
            if address[0..<10].allSatisfy({ $0 == 0 }) && address[10] == 0xff && address[11] == 0xff {
                return classify(Array(address[12..<16]))
            }
            if address[0..<15].allSatisfy({ $0 == 0 }) {
                return address[15] == 1 ? .loopback : .unspecified
            }
            if address[0] & 0xfe == 0xfc { return .privateNetwork }
            if address[0] == 0xfe && address[1] & 0xc0 == 0x80 { return .linkLocal }
            if address[0] == 0xff { return .reserved }
            return .publicNetwork
        }
        guard address.count == 4 else { return .reserved }
        switch (address[0], address[1]) {
        case (0, _): return .unspecified
        case (127, _): return .loopback
        case (10, _), (192, 168): return .privateNetwork
        case (172, 16...31), (100, 64...127): return .privateNetwork
        case (169, 254): return .linkLocal
        case (224...255, _): return .reserved
        default: return .publicNetwork
        }
    }

    /// Whether `host` (as written in the URL) may be contacted at `address`.
    public func permits(host: String, address: [UInt8]) -> Bool {
        if allowedHosts.contains(host.lowercased()) { return true }
        switch Self.classify(address) {
        case .publicNetwork: return true
        case .loopback: return allowLoopback
        case .privateNetwork: return allowPrivate
        case .linkLocal: return allowLinkLocal
        case .unspecified, .reserved: return false
        }
    }

    /// Checks every resolved address; throws `.addressRefused` naming the first refused one.
    package func check(host: String, addresses: [[UInt8]]) throws(TrackerError) {
        guard !addresses.isEmpty else { throw TrackerError(.connectionFailed, "\(host) did not resolve") }
        for address in addresses where !permits(host: host, address: address) {
            let text = address.count == 4 ? IPAddressText.ipv4(address) : IPAddressText.ipv6(address)
            throw TrackerError(
                .addressRefused,
                "\(host) resolves to \(text) (\(Self.classify(address))), which the tracker address policy refuses")
        }
    }
}

/// Parsing numeric IP addresses.
package enum IPAddressBytes {
    /// 4 bytes for a dotted quad, 16 for IPv6 text (brackets allowed), nil otherwise.
    package static func parse(_ text: String) -> [UInt8]? {
        var text = Substring(text)
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let v4 = ipv4(text) { return v4 }
        return ipv6(text)
    }

    static func ipv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = UInt8(part)
            else { return nil }
            out.append(value)
        }
        return out
    }

    static func ipv6(_ text: Substring) -> [UInt8]? {
        guard text.contains(":"), text.count <= 45 else { return nil }
        let chars = Array(text)
        var halves: [Substring] = []
        if let index = chars.indices.dropLast().first(where: { chars[$0] == ":" && chars[$0 + 1] == ":" }) {
            let split = text.index(text.startIndex, offsetBy: index)
            halves = [text[..<split], text[text.index(split, offsetBy: 2)...]]
            guard !halves[1].contains("::") else { return nil }
        } else {
            halves = [text]
        }
        func groups(_ part: Substring) -> [UInt8]? {
            if part.isEmpty { return [] }
            var out: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains("."), let v4 = ipv4(piece) {
                    out += v4
                    continue
                }
                guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                out += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}
