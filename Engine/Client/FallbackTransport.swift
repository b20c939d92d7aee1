import BTWire
import NIOCore

/// TCP and uTP together, as libtorrent runs them: it listens on both on the same port number and dials by a
/// ``Policy``; with ``Policy/both`` it tries uTP first and falls back to TCP when the uTP attempt fails (reset,
/// nobody answering) or does not complete within ``utpAttemptTimeout``.
///
/// Incoming connections arrive on either, whatever the policy. A connection's transport is
/// `TransportKind(of: channel)`; ``kind`` (what ``PeerStatus/transport`` shows until the engine asks per
/// connection) is uTP only under ``Policy/utp``.
public struct FallbackTransport: PeerTransport {
    /// How connections are dialled.
    public enum Policy: String, Hashable, Sendable, CaseIterable {
        /// TCP only.
        case tcp
        /// uTP only.
        case utp
        /// uTP first, TCP if uTP fails or is slow to answer.
        case both
    }

    /// The TCP side.
    public let tcp: TCPTransport
    /// The uTP side.
    public let utp: UTPTransport
    /// How connections are dialled.
    public let policy: Policy
    /// How long a uTP dial may take under ``Policy/both`` before TCP is tried instead (libtorrent gives a uTP
    /// SYN 3 s before its first resend).
    public let utpAttemptTimeout: TimeAmount
    /// How many times ``listen(host:port:group:initializer:)`` with port 0 looks for a port free for both TCP and
    /// UDP (the system's choice for TCP may be taken for UDP).
    public static let portAttempts = 8

    /// A transport dialling with `policy`.
    public init(
        policy: Policy = .both, tcp: TCPTransport = TCPTransport(), utp: UTPTransport = UTPTransport(),
        utpAttemptTimeout: TimeAmount = .seconds(3)
    ) {
        self.policy = policy
        self.tcp = tcp
        self.utp = utp
        self.utpAttemptTimeout = utpAttemptTimeout
    }

    /// uTP under ``Policy/utp``, TCP otherwise.
    public var kind: TransportKind { policy == .utp ? .utp : .tcp }

    /// Listens with TCP on `host`:`port` and with uTP on the same port number (with port 0, on the first port the
    /// system gives TCP that UDP can take too).
    public func listen(
        host: String, port: Int, group: any EventLoopGroup,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any PeerListener {
        var lastError: (any Error)?
        for _ in 0..<(port == 0 ? Self.portAttempts : 1) {
            let tcpListener = try await tcp.listen(host: host, port: port, group: group, initializer: initializer)
            do {
                let utpListener = try await utp.listen(
                    host: host, port: tcpListener.port, group: group, initializer: initializer)
                return Listener(port: tcpListener.port, listeners: [tcpListener, utpListener])
            } catch {
                tcpListener.close()
                lastError = error
            }
        }
        throw lastError ?? ChannelError.unknownLocalAddress
    }

    /// Dials with the policy and no local address preference.
    public func connect(
        host: String, port: Int, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        connect(host: host, port: port, from: nil, loop: loop, timeout: timeout, initializer: initializer)
    }

    /// Dials with the policy: under ``Policy/both`` uTP for at most ``utpAttemptTimeout``, then TCP with the whole
    /// `timeout`.
    public func connect(
        host: String, port: Int, from localHost: String?, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        switch policy {
        case .tcp:
            return tcp.connect(
                host: host, port: port, from: localHost, loop: loop, timeout: timeout, initializer: initializer)
        case .utp:
            return utp.connect(
                host: host, port: port, from: localHost, loop: loop, timeout: timeout, initializer: initializer)
        case .both:
            let tcp = self.tcp
            return utp.connect(
                host: host, port: port, from: localHost, loop: loop, timeout: min(timeout, utpAttemptTimeout),
                initializer: initializer
            ).flatMapError { _ in
                tcp.connect(
                    host: host, port: port, from: localHost, loop: loop, timeout: timeout, initializer: initializer)
            }
        }
    }

    private struct Listener: PeerListener {
        let port: Int
        let listeners: [any PeerListener]

        func close() { for listener in listeners { listener.close() } }
    }
}
