import AsyncHTTPClient
import BTMetainfo
import BTTracker
import NIOCore
import NIOPosix

/// Fetches the .torrent file named by an http(s) URL (`torrent-add` with a URL `filename`).
///
/// The URL comes from whoever drives the RPC, so it is held to the engine's `BTTracker.TrackerAddressPolicy`
/// (the request-forgery guard of tracker URLs): every host, on the first request and on every redirect hop, is
/// resolved and checked, the connection goes to the checked address (no second resolution; HTTPS to a name is
/// pinned to it while TLS still verifies the name), and a public server may not redirect to a loopback,
/// private or link-local address. The answer is bounded: at most ``maximumBytes`` (a .torrent larger than
/// 10 MiB is refused, as Transmission's is), all of it within ``timeout``.
public struct TorrentURLFetcher: Sendable {
    /// Which hosts may be contacted.
    public var addressPolicy: TrackerAddressPolicy
    /// Most bytes of a fetched file (10 MiB).
    public var maximumBytes: Int = 10 << 20
    /// The whole fetch (every hop, head and body) must end within this.
    public var timeout: TimeAmount = .seconds(30)
    /// Most redirects followed.
    public var maximumRedirects: Int = 5

    /// A fetcher under `addressPolicy`.
    public init(addressPolicy: TrackerAddressPolicy) {
        self.addressPolicy = addressPolicy
    }

    /// The body of a `200` answer to a GET of `url`, after the redirects the policy allows.
    /// - Throws: ``DaemonError`` (`invalidArgument`) with the reason: a bad URL, a refused address, an HTTP
    ///   status, a body too large, no answer in time.
    public func fetch(_ url: String) async throws(DaemonError) -> [UInt8] {
        let deadline = NIODeadline.now() + timeout
        var current = url
        var startedLocal = false
        for hop in 0...maximumRedirects {
            let target: TrackerURL
            let addresses: [IPAddress]
            do throws(TrackerError) {
                target = try TrackerURL(current)
                guard target.scheme != .udp else { throw TrackerError(.invalidURL, "not an http(s) URL") }
                addresses = try await HostResolver.resolve(target.host)
                try addressPolicy.check(host: target.host, addresses: addresses)
            } catch {
                throw DaemonError(.invalidArgument, "cannot fetch \(current.prefix(200)): \(error.reason)")
            }
            let local = TrackerAddressPolicy.isLocal(addresses)
            if hop == 0 { startedLocal = local }
            if hop > 0 && local && !startedLocal && !addressPolicy.allowedHosts.contains(target.host) {
                throw DaemonError(
                    .invalidArgument, "a public server redirected to \(target.host) on the local network: refused")
            }
            let answer = try await get(target, address: addresses[0], deadline: deadline)
            if (300..<400).contains(answer.status), let location = answer.location {
                current = location.contains("://") ? location : Self.origin(target) + Self.absolute(location)
                continue
            }
            guard answer.status == 200 else {
                throw DaemonError(.invalidArgument, "cannot fetch \(current.prefix(200)): HTTP \(answer.status)")
            }
            return answer.body
        }
        throw DaemonError(.invalidArgument, "cannot fetch \(url.prefix(200)): more than \(maximumRedirects) redirects")
    }

    private struct Answer: Sendable {
        var status: Int
        var location: String?
        var body: [UInt8]
    }

    private func get(_ target: TrackerURL, address: IPAddress, deadline: NIODeadline) async throws(DaemonError)
        -> Answer
    {
        let shown = address.bitWidth == 128 ? "[\(address)]" : "\(address)"
        let numericHost = IPAddress(target.host) != nil
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,  // followed above, so each hop passes the policy
            timeout: .init(connect: timeout, read: timeout),
            decompression: .enabled(limit: .size(maximumBytes)))
        configuration.httpVersion = .http1Only
        configuration.connectionPool.retryConnectionEstablishment = false
        var request: HTTPClientRequest
        if target.scheme == .http || numericHost {
            request = HTTPClientRequest(
                url: "\(target.scheme.rawValue)://\(shown):\(target.port)\(target.pathAndQuery)")
            if !numericHost {
                request.headers.add(
                    name: "Host", value: target.port == 80 ? target.host : "\(target.host):\(target.port)")
            }
        } else {
            request = HTTPClientRequest(url: "https://\(target.host):\(target.port)\(target.pathAndQuery)")
            configuration.dnsOverride = [target.host: address.description]
        }
        request.headers.add(name: "User-Agent", value: "NetBitTorrent/\(BTDaemonVersion.current)")
        request.headers.add(name: "Accept-Encoding", value: "gzip")
        request.headers.add(name: "Connection", value: "close")
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        let limit = maximumBytes
        let outcome: Result<Answer, any Error>
        do {
            outcome = .success(
                try await Self.withDeadline(deadline) { [request] in
                    let response = try await client.execute(request, deadline: deadline)
                    if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > limit {
                        throw NIOTooManyBytesError(maxBytes: limit)
                    }
                    let body = try await response.body.collect(upTo: limit)
                    return Answer(
                        status: Int(response.status.code), location: response.headers.first(name: "Location"),
                        body: Array(body.readableBytesView))
                })
        } catch {
            outcome = .failure(error)
        }
        try? await client.shutdown()
        switch outcome {
        case .success(let answer): return answer
        case .failure(let error as NIOTooManyBytesError):
            throw DaemonError(.invalidArgument, "the file at the URL is larger than \(error.maxBytes ?? limit) bytes")
        case .failure(let error as DaemonError): throw error
        case .failure(let error as HTTPClientError)
        where [.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout].contains(error):
            throw DaemonError(.invalidArgument, "no complete answer from the URL in time (\(error))")
        case .failure(let error):
            if String(reflecting: error).hasSuffix("DecompressionError.limit") {
                throw DaemonError(.invalidArgument, "the file at the URL is larger than \(limit) bytes")
            }
            throw DaemonError(.invalidArgument, "cannot fetch \(target.host): \(error)")
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
                throw DaemonError(.invalidArgument, "no complete answer from the URL in time")
            }
            return value
        }
    }

    private static func origin(_ target: TrackerURL) -> String {
        let host = target.host.contains(":") ? "[\(target.host)]" : target.host
        return "\(target.scheme.rawValue)://\(host):\(target.port)"
    }

    private static func absolute(_ location: String) -> String { location.hasPrefix("/") ? location : "/" + location }
}
