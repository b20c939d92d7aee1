import BTWire
import NIOCore
import NIOPosix

/// How a ``Client`` reaches peers and is reached by them: listening and connecting, each producing a NIO
/// `Channel` that carries the BitTorrent byte stream. The engine installs its own handler on every channel
/// and never names TCP, so uTP or an encrypting transport (MSE) can be added as another conformance without
/// touching the engine's logic; ``TCPTransport`` is the default.
///
/// Every channel must be bound to the event loop the engine gives (`group` for accepted channels is a
/// one-thread group: the engine's loop).
public protocol PeerTransport: Sendable {
    /// What the transport's connections run over, as peers' status reports it (default TCP).
    var kind: TransportKind { get }

    /// Starts accepting connections on `host`:`port` (0: any port), running `initializer` on each accepted
    /// channel before it becomes active.
    func listen(
        host: String, port: Int, group: any EventLoopGroup,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any PeerListener

    /// Connects to `host`:`port`, giving up after `timeout`; runs `initializer` on the channel before it
    /// becomes active.
    func connect(
        host: String, port: Int, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel>

    /// Connects to `host`:`port` from the local address `localHost` (the address the client is bound to, so
    /// that a peer and a tracker see the connection come from it; nil: the system's choice). The default
    /// implementation ignores `localHost`.
    func connect(
        host: String, port: Int, from localHost: String?, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel>
}

extension PeerTransport {
    /// TCP, unless the transport says otherwise.
    public var kind: TransportKind { .tcp }

    /// Connects with ``connect(host:port:loop:timeout:initializer:)``, from wherever the transport chooses.
    public func connect(
        host: String, port: Int, from localHost: String?, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        connect(host: host, port: port, loop: loop, timeout: timeout, initializer: initializer)
    }
}

/// A listener made by a ``PeerTransport``.
public protocol PeerListener: Sendable {
    /// The port it accepts connections on.
    var port: Int { get }
    /// Stops accepting connections (established ones stay open).
    func close()
}

/// Plain TCP with `TCP_NODELAY`: the transport of the seed and of every client it interoperates with.
public struct TCPTransport: PeerTransport {
    /// The TCP transport.
    public init() {}

    /// Read buffers of peer sockets: from 128 bytes (what an idle peer costs) up to 1 MiB per read when the peer
    /// sends fast (see ``PeerReceiveAllocator``).
    static let receiveAllocator = PeerReceiveAllocator()

    /// Binds a `ServerBootstrap` (with `SO_REUSEADDR`).
    public func listen(
        host: String, port: Int, group: any EventLoopGroup,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any PeerListener {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: Self.receiveAllocator)
            .childChannelInitializer(initializer)
            .bind(host: host, port: port).get()
        guard let bound = channel.localAddress?.port else {
            try? await channel.close().get()
            throw ChannelError.unknownLocalAddress
        }
        return Listener(channel: channel, port: bound)
    }

    /// Connects with a `ClientBootstrap`.
    public func connect(
        host: String, port: Int, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        connect(host: host, port: port, from: nil, loop: loop, timeout: timeout, initializer: initializer)
    }

    /// Connects with a `ClientBootstrap` whose socket is first bound to `localHost` (port 0) when it is a
    /// specific address; a wildcard (`0.0.0.0`, `::`) or nil leaves the choice to the system. An address of
    /// the other family than `host`'s is not used (an IPv4-bound client dialling an IPv6 peer).
    public func connect(
        host: String, port: Int, from localHost: String?, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        var bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: Self.receiveAllocator)
            .channelInitializer(initializer)
        if let local = Self.bindAddress(localHost, dialling: host) { bootstrap = bootstrap.bind(to: local) }
        return bootstrap.connect(host: host, port: port)
    }

    /// The address to bind an outgoing socket to: `localHost` when it is a specific numeric address of the
    /// same family as a numeric `host` (a host name is dialled from an IPv4 address when bound to one).
    static func bindAddress(_ localHost: String?, dialling host: String) -> SocketAddress? {
        guard let localHost, localHost != "0.0.0.0", localHost != "::", localHost != "[::]",
            let local = try? SocketAddress(ipAddress: localHost, port: 0)
        else { return nil }
        if let remote = try? SocketAddress(ipAddress: host, port: 0), remote.protocol != local.protocol { return nil }
        return local
    }

    private struct Listener: PeerListener {
        let channel: any Channel
        let port: Int

        func close() { channel.close(promise: nil) }
    }
}
