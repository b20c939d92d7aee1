import BTUTP
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// uTP (BEP 29) as a ``PeerTransport``: one UDP socket, bound when the client listens, carries every uTP
/// connection of the client, incoming and outgoing, each as a `BTUTP/UTPStreamChannel` (a child channel of the
/// UDP channel, on its event loop) on which the engine installs its peer driver as on a TCP channel.
///
/// Reads are batched (`recvmmsg` of ``vectorReadMessageCount`` datagrams, NIO's vector reads) into a buffer with
/// room for ``maximumDatagramSize`` bytes per datagram: uTP has no length field or checksum, so a datagram cut
/// short by a smaller buffer would decode as a shorter valid packet and corrupt the stream. Writes made during a
/// read burst or a flush leave in one flush (`sendmmsg`). Datagrams that are not uTP are passed down the UDP
/// channel's pipeline (`BTUTP/UTPStreamMultiplexer`) to the client's DHT node when it shares the socket
/// (``listeningChannel``: the DHT adds its handler before the last one), and whatever nobody claims ends in a
/// ``UDPUnclaimedDatagrams``, dropped and counted (``unclaimedDatagrams``).
///
/// A dial goes out from the listening socket when there is one on the same event loop and of the address's
/// family, so peers see our listen port; otherwise (a dial before `listen`) from an ephemeral socket bound to
/// `localHost`, closed when its connection ends.
public struct UTPTransport: PeerTransport {
    /// Makes the UDP socket to bind for `host`:`port` instead of the transport binding one itself (tests bind their
    /// sockets inside a network namespace). Returns a bound datagram socket; the transport owns it afterwards.
    public typealias SocketFactory = @Sendable (_ host: String, _ port: Int) throws -> NIOBSDSocket.Handle

    /// The configuration of every uTP connection.
    public let configuration: UTPConfiguration
    /// The most uTP connections the socket keeps at once.
    public let maximumConnections: Int
    /// The bytes a connection keeps written and not yet in its send buffer before its channel turns unwritable.
    public let maximumPendingBytes: Int
    /// Datagrams read per system call (`recvmmsg`).
    public let vectorReadMessageCount: Int
    /// The room given to each datagram read: larger than any datagram a peer sends (libtorrent and libutp stay
    /// under 1,500 bytes; a jumbo-frame path could need more).
    public let maximumDatagramSize: Int
    /// Whether runs of full datagrams leave as one UDP segmentation offload write (where the kernel has it,
    /// `System.supportsUDPSegmentationOffload`): about 40 % less CPU per GiB sent on loopback. The segment size
    /// goes with each such write, not on the socket, so the DHT's datagrams on the shared socket are never split.
    public let segmentationOffload: Bool
    /// Whether the kernel may hand over several datagrams of one sender in one read (UDP generic receive
    /// offload, `UDP_GRO`, where the kernel has it: `System.supportsUDPReceiveOffload`); the handler splits them
    /// by the segment size the kernel reports. Each read message then has room for 65,535 bytes (a GRO buffer
    /// holds up to 64 KiB), and ``vectorReadMessageCount`` / 8 messages are read per system call.
    public let receiveOffload: Bool
    private let socketFactory: SocketFactory?
    private let state = SharedState()

    /// A uTP transport.
    public init(
        configuration: UTPConfiguration = UTPConfiguration(), maximumConnections: Int = 1024,
        maximumPendingBytes: Int = 256 << 10, vectorReadMessageCount: Int = 64, maximumDatagramSize: Int = 2048,
        segmentationOffload: Bool = true, receiveOffload: Bool = true, socketFactory: SocketFactory? = nil
    ) {
        self.segmentationOffload = segmentationOffload && System.supportsUDPSegmentationOffload
        self.receiveOffload = receiveOffload && System.supportsUDPReceiveOffload
        self.configuration = configuration
        self.maximumConnections = maximumConnections
        self.maximumPendingBytes = maximumPendingBytes
        self.vectorReadMessageCount = max(1, vectorReadMessageCount)
        self.maximumDatagramSize = max(configuration.maximumDatagramSize, maximumDatagramSize)
        self.socketFactory = socketFactory
    }

    /// uTP.
    public var kind: TransportKind { .utp }

    /// The listening UDP channel while the transport listens: the client's DHT node shares it (adding its
    /// handler before the ``UDPUnclaimedDatagrams`` at the end of its pipeline).
    public var listeningChannel: (any Channel)? { state.listener }

    /// Datagrams the listening socket received that neither uTP nor a DHT sharing it claimed, by kind (nil when
    /// not listening).
    public var unclaimedDatagrams: [UDPDatagramKind: Int]? { state.unclaimed?.counts }

    /// Binds the UDP socket on `host`:`port` and accepts uTP connections on it; later dials use it too.
    public func listen(
        host: String, port: Int, group: any EventLoopGroup,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any PeerListener {
        let unclaimed = UDPUnclaimedDatagrams()
        let channel = try await bind(
            host: host, port: port, loop: group.next(), accepting: initializer, unclaimed: unclaimed
        ).get()
        guard let bound = channel.localAddress?.port else {
            try? await channel.close().get()
            throw ChannelError.unknownLocalAddress
        }
        state.setListener(channel, unclaimed: unclaimed)
        return Listener(channel: channel, port: bound, state: state)
    }

    /// Dials `host`:`port` with no local address preference.
    public func connect(
        host: String, port: Int, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        connect(host: host, port: port, from: nil, loop: loop, timeout: timeout, initializer: initializer)
    }

    /// Dials `host`:`port` over uTP; the future succeeds with the stream channel when the uTP handshake completes
    /// and fails if it does not within `timeout` (or the peer resets it).
    public func connect(
        host: String, port: Int, from localHost: String?, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        Self.resolve(host: host, port: port, on: loop).flatMap { address in
            if let listener = state.listener, listener.eventLoop === loop,
                listener.localAddress?.protocol == address.protocol
            {
                return Self.dial(address, on: listener, timeout: timeout, initializer: initializer)
            }
            return dialFromEphemeralSocket(address, localHost: localHost, loop: loop, timeout: timeout, initializer)
        }
    }

    // MARK: - Internals

    private func dialFromEphemeralSocket(
        _ address: SocketAddress, localHost: String?, loop: any EventLoop, timeout: TimeAmount,
        _ initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        let local =
            TCPTransport.bindAddress(localHost, dialling: address.ipAddress ?? "")
            ?? (address.protocol == .inet6
                ? try? SocketAddress(ipAddress: "::", port: 0) : try? SocketAddress(ipAddress: "0.0.0.0", port: 0))
        guard let local, let host = local.ipAddress else {
            return loop.makeFailedFuture(ChannelError.unknownLocalAddress)
        }
        return bind(host: host, port: 0, loop: loop, accepting: nil).flatMap { socket in
            Self.dial(address, on: socket, timeout: timeout, initializer: initializer)
                .map { stream in
                    // The socket lives as long as its one connection.
                    stream.closeFuture.whenComplete { _ in socket.close(promise: nil) }
                    return stream
                }
                .flatMapErrorThrowing { error in
                    socket.close(promise: nil)
                    throw error
                }
        }
    }

    private static func dial(
        _ address: SocketAddress, on socket: any Channel, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        socket.eventLoop.flatSubmit {
            do {
                let multiplexer = try socket.pipeline.syncOperations.handler(type: UTPStreamMultiplexer.self)
                return multiplexer.createStream(to: address, timeout: timeout, initializer: initializer)
                    .map { $0 as any Channel }
            } catch {
                return socket.eventLoop.makeFailedFuture(error)
            }
        }
    }

    private func bind(
        host: String, port: Int, loop: any EventLoop,
        accepting initializer: (@Sendable (any Channel) -> EventLoopFuture<Void>)?,
        unclaimed: UDPUnclaimedDatagrams = UDPUnclaimedDatagrams()
    ) -> EventLoopFuture<any Channel> {
        let configuration = configuration
        let maximumConnections = maximumConnections
        let maximumPendingBytes = maximumPendingBytes
        // Full data packets are at least the floor of path MTU discovery, whatever size it settles at.
        let segmentSize =
            segmentationOffload ? min(configuration.minimumDatagramSize, configuration.maximumDatagramSize) : nil
        let messages = receiveOffload ? max(1, vectorReadMessageCount / 8) : vectorReadMessageCount
        let room = receiveOffload ? 65_535 : maximumDatagramSize
        var plain = DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: messages)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: messages * room))
        if receiveOffload {
            plain = plain.channelOption(.datagramReceiveOffload, value: true)
                .channelOption(.datagramReceiveSegmentSize, value: true)
        }
        let bootstrap = plain.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let multiplexer = UTPStreamMultiplexer(
                    configuration: configuration, maximumConnections: maximumConnections,
                    maximumPendingBytes: maximumPendingBytes, inboundInitializer: initializer)
                multiplexer.socket.segmentationSize = segmentSize
                try multiplexer.install(on: channel.pipeline.syncOperations)
                try channel.pipeline.syncOperations.addHandler(unclaimed)
            }
        }
        guard let socketFactory else { return bootstrap.bind(host: host, port: port) }
        do {
            return bootstrap.withBoundSocket(try socketFactory(host, port))
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    /// A numeric address at once; a name through the system resolver off the event loop.
    private static func resolve(host: String, port: Int, on loop: any EventLoop) -> EventLoopFuture<SocketAddress> {
        if let address = try? SocketAddress(ipAddress: host, port: port) { return loop.makeSucceededFuture(address) }
        let promise = loop.makePromise(of: SocketAddress.self)
        DispatchQueue.global().async {
            promise.completeWith(Result { try SocketAddress.makeAddressResolvingHost(host, port: port) })
        }
        return promise.futureResult
    }

    /// The listening socket, shared by copies of the transport (a ``ClientConfiguration`` holds a copy).
    private final class SharedState: @unchecked Sendable {
        private let lock = NSLock()
        private var channel: (any Channel)?
        private var sink: UDPUnclaimedDatagrams?

        var listener: (any Channel)? { lock.withLock { channel } }

        /// The last handler of the listening socket (kept after the listener closes: its counts stay readable).
        var unclaimed: UDPUnclaimedDatagrams? { lock.withLock { sink } }

        func setListener(_ channel: any Channel, unclaimed: UDPUnclaimedDatagrams) {
            lock.withLock {
                self.channel = channel
                self.sink = unclaimed
            }
        }

        func clearListener(_ channel: any Channel) {
            lock.withLock { if self.channel === channel { self.channel = nil } }
        }
    }

    private struct Listener: PeerListener {
        let channel: any Channel
        let port: Int
        let state: SharedState

        /// Stops accepting connections: the socket carries the established ones until they end, then closes.
        func close() {
            state.clearListener(channel)
            let channel = self.channel
            channel.eventLoop.execute {
                guard let multiplexer = try? channel.pipeline.syncOperations.handler(type: UTPStreamMultiplexer.self)
                else { return }
                multiplexer.closeWhenIdle()
            }
        }
    }
}

extension TransportKind {
    /// What `channel` carries a peer connection over: uTP for a `BTUTP/UTPStreamChannel` (the channels
    /// ``UTPTransport`` gives), TCP for any other; the engine's peer status can report it per connection.
    public init(of channel: any Channel) {
        self = channel is UTPStreamChannel ? .utp : .tcp
    }
}
