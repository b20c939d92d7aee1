import AsyncHTTPClient
import BTMetainfo
import NIOCore
import NIOPosix
import NIOSSL

/// Announces to and scrapes HTTP(S) and UDP trackers. The transports are thin: request building, response
/// parsing and the UDP retransmission schedule live in ``HTTPTrackerProtocol`` and ``UDPTrackerExchange``.
///
/// Every host is checked against the `TrackerAddressPolicy` before it is contacted, on every redirect hop.
/// What happens is reported on ``events``. Call ``shutdown()`` when done (or use ``withClient(configuration:_:)``).
///
/// ```swift
/// let response = try await TrackerClient.withClient { client in
///     try await client.announce(request, to: "udp://tracker.example:6969/announce")
/// }
/// print(response.peers)
/// ```
public final class TrackerClient: Sendable {
    /// Transport limits and policy.
    public struct Configuration: Sendable {
        /// Which hosts may be contacted.
        public var addressPolicy: TrackerAddressPolicy
        /// Deadline for a whole HTTP exchange, redirects included.
        public var httpTimeout: TimeAmount
        /// Largest HTTP response body accepted (after gzip decompression).
        public var maxResponseBytes: Int
        /// Redirects followed before giving up.
        public var maxRedirects: Int
        /// UDP retransmission schedule (BEP 15).
        public var udpRetransmission: UDPRetransmissionPolicy
        /// `User-Agent` sent to HTTP trackers.
        public var userAgent: String
        /// Paths of PEM files whose certificates are trusted as roots for HTTPS trackers, in addition to the
        /// system's (for a tracker with a private or self-signed certificate). A file that cannot be read fails
        /// the HTTPS request with ``TrackerError/Code/connectionFailed``.
        public var additionalTrustedRootCertificateFiles: [String]
        /// The local address announces and scrapes leave from (HTTP and UDP), e.g. the address the client's
        /// listening socket is bound to, so a tracker lists the client at that address (trackers record the
        /// source address of the request). `nil`: the system chooses. A tracker of the other address family
        /// cannot be reached from it and fails with ``TrackerError/Code/connectionFailed``.
        public var localAddress: IPAddress?
        /// Resolves a host name to its addresses (test hook; `nil` means `getaddrinfo`).
        package var resolver: (@Sendable (String) async throws(TrackerError) -> [IPAddress])?

        /// Creates a configuration.
        public init(
            addressPolicy: TrackerAddressPolicy = .default, httpTimeout: TimeAmount = .seconds(30),
            maxResponseBytes: Int = 1 << 20, maxRedirects: Int = 5,
            udpRetransmission: UDPRetransmissionPolicy = .init(),
            userAgent: String = "NetBitTorrent/\(BTTrackerVersion.current)",
            additionalTrustedRootCertificateFiles: [String] = [], localAddress: IPAddress? = nil
        ) {
            self.localAddress = localAddress
            self.addressPolicy = addressPolicy
            self.httpTimeout = httpTimeout
            self.maxResponseBytes = maxResponseBytes
            self.maxRedirects = maxRedirects
            self.udpRetransmission = udpRetransmission
            self.userAgent = userAgent
            self.additionalTrustedRootCertificateFiles = additionalTrustedRootCertificateFiles
        }
    }

    /// The configuration in use.
    public let configuration: Configuration
    /// Everything that happens, as seed-004 `tracker_*` events (the newest 4096 are kept if nobody reads).
    public let events: AsyncStream<TrackerEvent>

    private let eventSink: AsyncStream<TrackerEvent>.Continuation
    private let http: HTTPClient
    private let group: any EventLoopGroup
    private let udpConnections = UDPConnectionCache()

    /// Creates a client; call ``shutdown()`` before releasing it.
    public init(
        configuration: Configuration = .init(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.group = group
        (events, eventSink) = AsyncStream.makeStream(of: TrackerEvent.self, bufferingPolicy: .bufferingNewest(4096))
        http = HTTPClient(eventLoopGroup: group, configuration: Self.httpConfiguration(configuration))
    }

    /// The AsyncHTTPClient configuration for `configuration`; `pinning` maps a host name to the address text
    /// to connect to instead of resolving the name again (TLS still names and verifies the host).
    private static func httpConfiguration(_ configuration: Configuration, pinning: [String: String] = [:])
        -> HTTPClient.Configuration
    {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = configuration.additionalTrustedRootCertificateFiles.map { .file($0) }
        var http = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,  // followed by hand, so each hop passes the address policy
            timeout: .init(connect: configuration.httpTimeout, read: configuration.httpTimeout),
            decompression: .enabled(limit: .size(configuration.maxResponseBytes)))
        http.httpVersion = .http1Only
        // A refused or failed connection (TLS handshake included) is reported at once rather than retried with
        // back-off until the deadline: the announce schedule has its own back-off.
        http.connectionPool.retryConnectionEstablishment = false
        http.dnsOverride = pinning
        http.localAddress = configuration.localAddress?.description
        return http
    }

    private func resolve(_ host: String) async throws(TrackerError) -> [IPAddress] {
        if let resolver = configuration.resolver, IPAddress(host) == nil { return try await resolver(host) }
        return try await HostResolver.resolve(host)
    }

    /// Runs `body` with a fresh client and shuts it down afterwards, whether `body` throws or not.
    public static func withClient<Result: Sendable>(
        configuration: Configuration = .init(), _ body: (TrackerClient) async throws -> Result
    ) async throws -> Result {
        let client = TrackerClient(configuration: configuration)
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// Closes the HTTP connection pool and finishes ``events``.
    public func shutdown() async {
        try? await http.shutdown()
        eventSink.finish()
    }

    /// Announces to the tracker at `url` (http, https or udp).
    /// - Throws: ``TrackerError``; the failure is also reported as a ``TrackerEvent/failure(tracker:_:)`` event.
    public func announce(_ request: AnnounceRequest, to url: String) async throws(TrackerError) -> AnnounceResponse {
        do throws(TrackerError) {
            let tracker = try TrackerURL(url)
            let response: AnnounceResponse
            switch tracker.scheme {
            case .http, .https:
                let body = try await httpGet(
                    HTTPTrackerProtocol.announceURL(url, request), tracker: url, event: request.event)
                response = try HTTPTrackerProtocol.parseAnnounceResponse(body)
            case .udp:
                let query = UDPTrackerQuery.announce(request, urlData: Array(tracker.pathAndQuery.utf8.prefix(2048)))
                guard case .announce(let answer) = try await udp(query, tracker: tracker, url: url) else {
                    throw TrackerError(.malformedPacket, "scrape answer to an announce")
                }
                response = answer
            }
            eventSink.yield(.success(tracker: url, TrackerSuccess(response)))
            return response
        } catch {
            eventSink.yield(.failure(tracker: url, error))
            throw error
        }
    }

    /// Scrapes the tracker whose announce URL is `url` for `infoHashes` (20 bytes each). HTTP trackers are
    /// scraped at the BEP 48 scrape URL; `.scrapeUnsupported` when the announce URL has none.
    /// - Throws: ``TrackerError``.
    public func scrape(_ infoHashes: [[UInt8]], at url: String) async throws(TrackerError) -> [ScrapeResult] {
        do throws(TrackerError) {
            let tracker = try TrackerURL(url)
            switch tracker.scheme {
            case .http, .https:
                guard let scrapeURL = HTTPTrackerProtocol.scrapeURL(forAnnounce: url) else {
                    throw TrackerError(
                        .scrapeUnsupported, "announce URL does not end in /announce*: no scrape (BEP 48)")
                }
                let body = try await httpGet(
                    HTTPTrackerProtocol.scrapeRequestURL(scrapeURL, infoHashes: infoHashes), tracker: url, event: nil)
                return try HTTPTrackerProtocol.parseScrapeResponse(body)
            case .udp:
                var results: [ScrapeResult] = []
                var rest = infoHashes[...]
                repeat {
                    let chunk = Array(rest.prefix(UDPTrackerPacket.maxScrapeHashes))
                    rest = rest.dropFirst(chunk.count)
                    guard case .scrape(let answer) = try await udp(.scrape(chunk), tracker: tracker, url: url) else {
                        throw TrackerError(.malformedPacket, "announce answer to a scrape")
                    }
                    results += answer
                } while !rest.isEmpty
                return results
            }
        } catch {
            eventSink.yield(.failure(tracker: url, error))
            throw error
        }
    }

    // MARK: UDP

    private func udp(_ query: UDPTrackerQuery, tracker: TrackerURL, url: String) async throws(TrackerError)
        -> UDPTrackerAnswer
    {
        let addresses = try await resolve(tracker.host)
        try configuration.addressPolicy.check(host: tracker.host, addresses: addresses)
        let remote = try HostResolver.socketAddress(addresses[0], port: tracker.port)
        let local = try configuration.localAddress.map { address throws(TrackerError) in
            guard address.bitWidth == addresses[0].bitWidth else {
                throw TrackerError(
                    .connectionFailed, "bound to \(address): cannot reach \(tracker.host) at \(addresses[0])")
            }
            return try HostResolver.socketAddress(address, port: 0)
        }
        let key = tracker.origin
        let cached = await udpConnections.get(key)
        let exchange = UDPTrackerExchange(query: query, connection: cached, policy: configuration.udpRetransmission)
        let sink = eventSink
        let outcome = await UDPTrackerTransport.run(
            exchange, tracker: url, remote: remote, local: local, group: group, onEvent: { sink.yield($0) })
        await udpConnections.set(key, outcome.connection)
        return try outcome.result.get()
    }

    // MARK: HTTP

    private func httpGet(_ firstURL: String, tracker: String, event: AnnounceEvent?) async throws(TrackerError)
        -> [UInt8]
    {
        let deadline = NIODeadline.now() + configuration.httpTimeout
        eventSink.yield(.connect(tracker: tracker, event: event))
        defer { eventSink.yield(.disconnect(tracker: tracker)) }
        var url = firstURL
        var hops = 0
        var startedLocal = false
        let ownQuery = (try? TrackerURL(tracker))?.hasQuery ?? true
        while true {
            let target = try TrackerURL(url)
            guard target.scheme != .udp else { throw TrackerError(.invalidURL, "HTTP redirect to a UDP URL") }
            let addresses = try await resolve(target.host)
            try configuration.addressPolicy.check(host: target.host, addresses: addresses)
            if hops == 0 { startedLocal = TrackerAddressPolicy.isLocal(addresses) }
            try configuration.addressPolicy.checkLocalRequest(
                host: target.host, addresses: addresses, path: String(target.path),
                hasOwnQuery: hops == 0 && ownQuery, redirectedFromPublic: hops > 0 && !startedLocal)
            // Connect to the address that was checked, never to a second reading of the host text: not a second
            // resolution of a name (DNS rebinding), not the resolver's reading of a numeric host (TrackerURL has
            // already replaced that by the address it stands for).
            let address = addresses[0]
            let shown = address.bitWidth == 128 ? "[\(address)]" : "\(address)"
            var request: HTTPClientRequest
            var pinnedClient: HTTPClient?
            let numericHost = IPAddress(target.host) != nil
            if target.scheme == .http || numericHost {
                request = HTTPClientRequest(
                    url: "\(target.scheme.rawValue)://\(shown):\(target.port)\(target.pathAndQuery)")
                if !numericHost {
                    request.headers.add(
                        name: "Host", value: target.port == 80 ? target.host : "\(target.host):\(target.port)")
                }
            } else {
                // HTTPS to a name: a client of its own whose DNS override sends the name's connection to the
                // checked address while SNI and certificate verification still use the name.
                request = HTTPClientRequest(url: "https://\(target.host):\(target.port)\(target.pathAndQuery)")
                pinnedClient = HTTPClient(
                    eventLoopGroup: group,
                    configuration: Self.httpConfiguration(configuration, pinning: [target.host: address.description]))
            }
            request.method = .GET
            request.headers.add(name: "User-Agent", value: configuration.userAgent)
            request.headers.add(name: "Accept-Encoding", value: "gzip")
            request.headers.add(name: "Connection", value: "close")
            // The head as AsyncHTTPClient writes it: our headers, then the `Host` it adds when we set none.
            var sentHeaders = request.headers.map { "\($0.name): \($0.value)\r\n" }
            if !request.headers.contains(name: "Host") {
                let shown = target.host.contains(":") ? "[\(target.host)]" : target.host
                let defaultPort = target.scheme == .https ? 443 : 80
                sentHeaders.append("host: \(target.port == defaultPort ? shown : "\(shown):\(target.port)")\r\n")
            }
            let head = "GET \(target.pathAndQuery) HTTP/1.1\r\n" + sentHeaders.joined() + "\r\n"
            eventSink.yield(.write(tracker: tracker, bytes: head.utf8.count))
            let response: (status: Int, phrase: String, location: String?, body: ByteBuffer)
            do {
                let http = pinnedClient ?? self.http
                let limit = configuration.maxResponseBytes
                // AsyncHTTPClient's deadline covers the head only: the whole exchange races the deadline here, so a
                // tracker dripping its body byte by byte cannot hold us.
                // A little grace lets AsyncHTTPClient report its own error (say, connection refused) at the deadline.
                response = try await Self.withDeadline(deadline + .milliseconds(500)) { [request] in
                    let response = try await http.execute(request, deadline: deadline)
                    let body = try await response.body.collect(upTo: limit)
                    return (
                        Int(response.status.code), response.status.reasonPhrase,
                        response.headers.first(name: "Location"), body
                    )
                }
            } catch {
                try? await pinnedClient?.shutdown()
                throw Self.map(error, configuration)
            }
            try? await pinnedClient?.shutdown()
            let body = response.body
            eventSink.yield(.read(tracker: tracker, bytes: body.readableBytes))
            let status = response.status
            if (300..<400).contains(status), let location = response.location {
                hops += 1
                guard hops <= configuration.maxRedirects else {
                    throw TrackerError(.httpStatus, "more than \(configuration.maxRedirects) redirects")
                }
                url =
                    location.contains("://")
                    ? location : target.originForRedirect + (location.hasPrefix("/") ? location : "/" + location)
                continue
            }
            let bytes = Array(body.readableBytesView)
            guard status == 200 else {
                // Some trackers send their failure reason with an error status.
                if case .failure(let error) = Result(catching: { () throws(TrackerError) in
                    try HTTPTrackerProtocol.parseAnnounceResponse(bytes)
                }), error.code == .trackerFailure {
                    throw error
                }
                throw TrackerError(.httpStatus, "HTTP \(status) \(response.phrase)")
            }
            return bytes
        }
    }

    private static func withDeadline<T: Sendable>(
        _ deadline: NIODeadline, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(max(0, (deadline - .now()).nanoseconds)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw TrackerError(.timeout, "no complete answer before the deadline")
            }
            return value
        }
    }

    private static func map(_ error: any Error, _ configuration: Configuration) -> TrackerError {
        let limit = configuration.maxResponseBytes
        if let error = error as? TrackerError { return error }
        if error is CancellationError { return TrackerError(.cancelled, "cancelled") }
        if error is NIOTooManyBytesError {
            return TrackerError(.responseTooLarge, "response larger than \(limit) bytes")
        }
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return TrackerError(.timeout, "no complete answer in time (\(client))")
            case .cancelled:
                return TrackerError(.cancelled, "cancelled")
            default:
                break
            }
        }
        if let tls = error as? NIOSSLError, case .failedToLoadCertificate = tls {
            let files = configuration.additionalTrustedRootCertificateFiles.joined(separator: ", ")
            return TrackerError(.connectionFailed, "TLS: cannot load the trusted root certificates of \(files)")
        }
        if error is NIOSSLError || error is BoringSSLError {
            return TrackerError(.connectionFailed, "TLS: \(error)")
        }
        if String(reflecting: error).hasSuffix("DecompressionError.limit") {
            return TrackerError(.responseTooLarge, "decompressed response larger than \(limit) bytes")
        }
        return TrackerError(.connectionFailed, HostResolver.describe(error))
    }
}

extension TrackerURL {
    fileprivate var originForRedirect: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(scheme.rawValue)://\(shownHost):\(port)"
    }
}

/// UDP connection ids per tracker origin, reused for a minute (BEP 15).
private actor UDPConnectionCache {
    private var connections: [String: UDPTrackerConnection] = [:]
    func get(_ key: String) -> UDPTrackerConnection? { connections[key] }
    func set(_ key: String, _ connection: UDPTrackerConnection?) { connections[key] = connection }
}
