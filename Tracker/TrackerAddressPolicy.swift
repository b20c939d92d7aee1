import BTMetainfo

/// Which hosts a tracker URL may make this client contact: the request-forgery (SSRF) guard.
///
/// A tracker URL comes from an untrusted .torrent or magnet link. Without a policy, a crafted torrent could
/// make the client send GET requests or UDP packets to services on the user's local network (a router's
/// admin page, say). The policy is checked on every address a host name resolves to, on every redirect hop,
/// and the transport then connects to the checked address (no second resolution for UDP and plain HTTP).
///
/// The default refuses private (RFC 1918, RFC 4193, carrier-grade NAT), link-local, unspecified, multicast and
/// reserved addresses, and allows loopback (tests and local swarms) and public addresses. IPv6 addresses that
/// embed an IPv4 address (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged
/// by that IPv4 address. As libtorrent's `ssrf_mitigation` does, an HTTP tracker on a loopback, private or
/// link-local address may only be asked its `/announce` path (and the `/scrape` beside it), with no query
/// of its own: a torrent cannot use a local tracker URL to send arbitrary requests to a local web service.
public struct TrackerAddressPolicy: Sendable, Hashable {
    /// Allow 127.0.0.0/8 and ::1.
    public var allowLoopback: Bool
    /// Allow 10/8, 172.16/12, 192.168/16, 100.64/10 and fc00::/7.
    public var allowPrivate: Bool
    /// Allow 169.254/16 and fe80::/10.
    public var allowLinkLocal: Bool
    /// Host names or literal addresses (lower-case) always allowed, whatever they resolve to.
    public var allowedHosts: Set<String>
    /// libtorrent's `ssrf_mitigation`: an HTTP tracker on a loopback, private or link-local address may only
    /// be asked `/announce` (or `/scrape`), with no query in the tracker URL itself. On by default.
    public var localTrackersAnnounceOnly: Bool

    /// Creates a policy.
    public init(
        allowLoopback: Bool = true, allowPrivate: Bool = false, allowLinkLocal: Bool = false,
        allowedHosts: Set<String> = [], localTrackersAnnounceOnly: Bool = true
    ) {
        self.localTrackersAnnounceOnly = localTrackersAnnounceOnly
        self.allowLoopback = allowLoopback
        self.allowPrivate = allowPrivate
        self.allowLinkLocal = allowLinkLocal
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
    }

    /// The default: loopback and public addresses only.
    public static let `default` = TrackerAddressPolicy()
    /// Allows every unicast address and every path on local trackers (for a user who trusts the torrent, or
    /// a LAN tracker).
    public static let allowAll = TrackerAddressPolicy(
        allowLoopback: true, allowPrivate: true, allowLinkLocal: true, localTrackersAnnounceOnly: false)

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

    /// Classifies an address. IPv6 addresses embedding an IPv4 address (`IPAddress.embeddedIPv4`) are
    /// classified as that IPv4 address.
    public static func classify(_ address: IPAddress) -> AddressClass {
        if let inner = address.embeddedIPv4 { return classify(inner) }
        switch address {
        case .v4(let value):
            let (a, b) = (UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16))
            switch (a, b) {
            case (0, _): return .unspecified
            case (127, _): return .loopback
            case (10, _), (192, 168): return .privateNetwork
            case (172, 16...31), (100, 64...127): return .privateNetwork
            case (169, 254): return .linkLocal
            case (224...255, _): return .reserved
            default: return .publicNetwork
            }
        case .v6(let high, let low):
            if high == 0 && low == 1 { return .loopback }
            if high == 0 && low == 0 { return .unspecified }
            let first = UInt16(high >> 48)
            if first & 0xfe00 == 0xfc00 { return .privateNetwork }  // fc00::/7 unique local
            if first & 0xffc0 == 0xfec0 { return .privateNetwork }  // fec0::/10 site local (deprecated)
            if high >> 16 == 0x0064_ff9b_0001 { return .privateNetwork }  // 64:ff9b:1::/48 local NAT64 (RFC 8215)
            if first & 0xffc0 == 0xfe80 { return .linkLocal }
            if first >> 8 == 0xff { return .reserved }
            return .publicNetwork
        }
    }

    /// Whether `host` (as written in the URL) may be contacted at `address`.
    public func permits(host: String, address: IPAddress) -> Bool {
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
    package func check(host: String, addresses: [IPAddress]) throws(TrackerError) {
        guard !addresses.isEmpty else { throw TrackerError(.connectionFailed, "\(host) did not resolve") }
        for address in addresses where !permits(host: host, address: address) {
            throw TrackerError(
                .addressRefused,
                "\(host) resolves to \(address) (\(Self.classify(address))), which the tracker address policy refuses")
        }
    }

    /// Whether any of `addresses` is loopback, private or link-local.
    package static func isLocal(_ addresses: [IPAddress]) -> Bool {
        addresses.contains { address in
            switch classify(address) {
            case .loopback, .privateNetwork, .linkLocal: return true
            case .publicNetwork, .unspecified, .reserved: return false
            }
        }
    }

    /// libtorrent's `ssrf_mitigation` for an HTTP request to `host` at `addresses`. When any of them is
    /// loopback, private or link-local: the request's path must be `/announce` or `/scrape`; the tracker URL
    /// may not bring a query of its own (`hasOwnQuery`); and a redirect from a public tracker to it is not
    /// followed (`redirectedFromPublic`). Throws `.addressRefused` otherwise.
    package func checkLocalRequest(
        host: String, addresses: [IPAddress], path: String, hasOwnQuery: Bool, redirectedFromPublic: Bool
    ) throws(TrackerError) {
        guard localTrackersAnnounceOnly, !allowedHosts.contains(host.lowercased()), Self.isLocal(addresses) else {
            return
        }
        guard !redirectedFromPublic else {
            throw TrackerError(
                .addressRefused, "a public tracker redirected to \(host) on the local network (SSRF mitigation)")
        }
        guard path == "/announce" || path == "/scrape", !hasOwnQuery else {
            throw TrackerError(
                .addressRefused,
                "\(host) is on the local network: only its /announce path may be asked, without a query of its own "
                    + "(SSRF mitigation), not \(path.prefix(100))\(hasOwnQuery ? " with a query" : "")")
        }
    }
}
