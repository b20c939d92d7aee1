import AsyncHTTPClient
import BTMetainfo
import BTTracker
import NIOCore

/// The HTTP(S) driver of web seeds: ranged GETs on one shared AsyncHTTPClient (HTTP/1.1 keep-alive, a few
/// connections per host), each answer judged by ``WebSeedResponse`` and streamed to the caller chunk by chunk,
/// never more bytes than the range asked for.
///
/// Every host is resolved and checked against BTTracker's `TrackerAddressPolicy` before it is contacted,
/// on the first request and on every redirect hop, and the connection goes to the checked address (no second
/// resolution). As libtorrent's `ssrf_mitigation` does for web seeds, a web seed on a public address may not
/// redirect to a loopback, private or link-local one (when the policy's `localTrackersAnnounceOnly` is on).
/// HTTPS to a host name uses a client pinned to the checked address (TLS still verifies the name).
public final class WebSeedClient: Sendable {
    /// Settings.
    public struct Configuration: Sendable {
        /// Which hosts may be contacted (the tracker policy: loopback and public addresses by default).
        public var addressPolicy: TrackerAddressPolicy
        /// Longest wait to connect, for the head, and between two body chunks (libtorrent's `urlseed_timeout`).
        public var timeout: TimeAmount
        /// Most redirects followed for one request.
        public var maximumRedirects: Int
        /// HTTP/1.1 connections kept per host.
        public var connectionsPerHost: Int
        /// The `User-Agent` sent.
        public var userAgent: String
        /// The local address connections leave from (nil: the system's choice).
        public var localAddress: IPAddress?

        /// Creates settings: the default address policy, 20 s, 5 redirects, 4 connections per host.
        public init(
            addressPolicy: TrackerAddressPolicy = .default, timeout: TimeAmount = .seconds(20),
            maximumRedirects: Int = 5, connectionsPerHost: Int = 4,
            userAgent: String = "NetBitTorrent/\(BTWebSeedVersion.current)", localAddress: IPAddress? = nil
        ) {
            self.addressPolicy = addressPolicy
            self.timeout = timeout
            self.maximumRedirects = maximumRedirects
            self.connectionsPerHost = max(1, connectionsPerHost)
            self.userAgent = userAgent
            self.localAddress = localAddress
        }
    }

    /// The settings in use.
    public let configuration: Configuration
    private let http: HTTPClient
    private let pinned: PinnedClients
    private let group: any EventLoopGroup

    /// Creates a client; call ``shutdown()`` before releasing it.
    public init(configuration: Configuration = Configuration(), group: any EventLoopGroup) {
        self.configuration = configuration
        self.group = group
        self.http = HTTPClient(eventLoopGroup: group, configuration: Self.httpConfiguration(configuration))
        self.pinned = PinnedClients()
    }

    /// Closes every connection.
    public func shutdown() async {
        try? await http.shutdown()
        await pinned.shutdownAll()
    }

    /// Fetches `range` of the file at `url`: follows redirects the address policy allows, judges the answer,
    /// and hands each body chunk to `body` in order (their total is exactly `range.length` when this returns).
    /// Returns the URL that answered (after redirects), which the caller may use for the file's next ranges,
    /// as libtorrent keeps a web seed's redirects per file.
    public func fetch(
        _ url: String, range: WebSeedRange, body: (ByteBuffer) async throws(WebSeedError) -> Void
    ) async throws(WebSeedError) -> String {
        var current = url
        var startedLocal = false
        for hop in 0...configuration.maximumRedirects {
            let target: TrackerURL
            do {
                target = try WebSeedURL(current).parsed
            } catch {
                throw hop == 0
                    ? error : WebSeedError(.badRedirect, "redirect to \(current.prefix(200)): \(error.reason)")
            }
            let addresses: [IPAddress]
            do {
                addresses = try await HostResolver.resolve(target.host)
                try configuration.addressPolicy.check(host: target.host, addresses: addresses)
            } catch {
                throw WebSeedError(
                    error.code == .addressRefused ? .addressRefused : .connectionFailed, error.reason)
            }
            let local = TrackerAddressPolicy.isLocal(addresses)
            if hop == 0 { startedLocal = local }
            if hop > 0 && local && !startedLocal && configuration.addressPolicy.localTrackersAnnounceOnly
                && !configuration.addressPolicy.allowedHosts.contains(target.host)
            {
                throw WebSeedError(
                    .addressRefused,
                    "a public web seed redirected to \(target.host) on the local network (SSRF mitigation)")
            }
            switch try await get(target, address: addresses[0], range: range, body: body) {
            case .done:
                return current
            case .redirect(let location):
                current = Self.resolve(location, against: target)
            }
        }
        throw WebSeedError(
            .badRedirect, "more than \(configuration.maximumRedirects) redirects from \(url.prefix(200))")
    }

    private enum Outcome {
        case done
        case redirect(String)
    }

    private func get(
        _ target: TrackerURL, address: IPAddress, range: WebSeedRange,
        body: (ByteBuffer) async throws(WebSeedError) -> Void
    ) async throws(WebSeedError) -> Outcome {
        let shown = address.bitWidth == 128 ? "[\(address)]" : "\(address)"
        let numericHost = IPAddress(target.host) != nil
        var request: HTTPClientRequest
        let client: HTTPClient
        if target.scheme == .http || numericHost {
            // Connect to the checked address, naming the host in `Host`.
            request = HTTPClientRequest(
                url: "\(target.scheme.rawValue)://\(shown):\(target.port)\(target.pathAndQuery)")
            if !numericHost {
                request.headers.add(
                    name: "Host", value: target.port == 80 ? target.host : "\(target.host):\(target.port)")
            }
            client = http
        } else {
            request = HTTPClientRequest(url: "https://\(target.host):\(target.port)\(target.pathAndQuery)")
            client = await pinned.client(
                host: target.host, address: address.description, group: group,
                configuration: Self.httpConfiguration(configuration, pinning: [target.host: address.description]))
        }
        request.method = .GET
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        request.headers.add(name: "Range", value: range.rangeHeader)
        do {
            let response = try await client.execute(request, deadline: .now() + configuration.timeout)
            let verdict = try WebSeedResponse.judge(
                status: Int(response.status.code), contentRange: response.headers.first(name: "Content-Range"),
                contentLength: response.headers.first(name: "Content-Length"),
                location: response.headers.first(name: "Location"),
                retryAfter: response.headers.first(name: "Retry-After"), for: range)
            switch verdict {
            case .redirect(let location):
                return .redirect(location)
            case .content(let length):
                var received = 0
                for try await chunk in response.body {
                    received += chunk.readableBytes
                    guard received <= length else {
                        throw WebSeedError(.wrongLength, "more than the \(length) bytes asked for")
                    }
                    try await body(chunk)
                }
                guard received == length else {
                    throw WebSeedError(.wrongLength, "\(received) bytes of the \(length) asked for")
                }
                return .done
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// `location` (absolute, or relative to `target`) as an absolute URL.
    static func resolve(_ location: String, against target: TrackerURL) -> String {
        if location.contains("://") { return location }
        if location.hasPrefix("/") { return target.origin + location }
        let directory = target.path.lastIndex(of: "/").map { target.path[...$0] } ?? "/"
        return target.origin + directory + location
    }

    private static func map(_ error: any Error) -> WebSeedError {
        if let error = error as? WebSeedError { return error }
        if error is CancellationError { return WebSeedError(.cancelled, "cancelled") }
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return WebSeedError(.timeout, "no answer in time (\(client))")
            case .cancelled:
                return WebSeedError(.cancelled, "cancelled")
            default:
                return WebSeedError(.connectionFailed, "\(client)")
            }
        }
        return WebSeedError(.connectionFailed, "\(error)")
    }

    private static func httpConfiguration(_ configuration: Configuration, pinning: [String: String] = [:])
        -> HTTPClient.Configuration
    {
        var http = HTTPClient.Configuration(
            redirectConfiguration: .disallow,  // followed by hand, so each hop passes the address policy
            timeout: .init(connect: configuration.timeout, read: configuration.timeout),
            decompression: .disabled)
        http.httpVersion = .http1Only
        http.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.connectionsPerHost)
        http.dnsOverride = pinning
        http.localAddress = configuration.localAddress?.description
        return http
    }
}

/// HTTPS clients pinned to a checked address, one per host and address, kept for keep-alive.
private actor PinnedClients {
    private var clients: [String: HTTPClient] = [:]

    func client(host: String, address: String, group: any EventLoopGroup, configuration: HTTPClient.Configuration)
        -> HTTPClient
    {
        let key = host + " " + address
        if let client = clients[key] { return client }
        let client = HTTPClient(eventLoopGroup: group, configuration: configuration)
        clients[key] = client
        return client
    }

    func shutdownAll() async {
        let all = clients.values
        clients = [:]
        for client in all { try? await client.shutdown() }
    }
}
