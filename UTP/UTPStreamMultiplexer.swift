import NIOCore

/// Gives every uTP connection of a datagram channel its own child channel (``UTPStreamChannel``): incoming
/// connections through an initializer, outgoing ones through ``createStream(to:timeout:initializer:)``.
///
/// It owns the channel's ``UTPSocketHandler`` (its delegate) and sits right after it in the pipeline; install both
/// with ``install(on:)``. Datagrams that are not uTP pass through it unchanged (`fireChannelRead`), so the socket
/// can be shared with the DHT and UDP trackers by handlers added after it. Bytes received during a read burst are
/// delivered to each child channel once, when the burst ends, after the burst's acknowledgements went out; the
/// children's writes during a burst leave in one flush.
///
/// The datagram channel must read whole datagrams (see ``UTPSocketHandler``). All methods must be called on the
/// channel's event loop.
public final class UTPStreamMultiplexer: ChannelInboundHandler, UTPSocketDelegate {
    public typealias InboundIn = AddressedEnvelope<ByteBuffer>
    public typealias InboundOut = AddressedEnvelope<ByteBuffer>

    /// Initializes a child channel before it becomes active.
    public typealias Initializer = (any Channel) -> EventLoopFuture<Void>

    private struct Dial {
        let promise: EventLoopPromise<UTPStreamChannel>
        var timeout: Scheduled<Void>?
        var initialized = false
        var connected = false
    }

    /// The driver of the connections, added to the pipeline right before the multiplexer.
    public let socket: UTPSocketHandler
    private let inboundInitializer: Initializer?
    private var streams: [UTPConnectionID: UTPStreamChannel] = [:]
    private var dials: [UTPConnectionID: Dial] = [:]
    /// Children with bytes or a FIN to deliver when the read burst ends.
    private var readers: [UTPStreamChannel] = []
    private var context: ChannelHandlerContext?
    /// The channel's loop, kept after the handler is removed.
    private var loop: (any EventLoop)?
    private var closingWhenIdle = false

    /// A multiplexer. Incoming connections are accepted when `inboundInitializer` is given (and each child runs
    /// it before it becomes active); `maximumPendingBytes` bounds what each connection holds written and not yet
    /// in its send buffer, beyond which its channel turns unwritable.
    public init(
        configuration: UTPConfiguration = UTPConfiguration(), maximumConnections: Int = 1024,
        maximumPendingBytes: Int = 256 << 10, inboundInitializer: Initializer?
    ) {
        self.socket = UTPSocketHandler(
            configuration: configuration, acceptsIncoming: inboundInitializer != nil,
            maximumConnections: maximumConnections, maximumPendingBytes: maximumPendingBytes)
        self.inboundInitializer = inboundInitializer
        self.socket.delegate = self
    }

    /// Adds ``socket`` and the multiplexer to the end of a datagram channel's pipeline.
    public func install(on pipeline: ChannelPipeline.SynchronousOperations) throws {
        try pipeline.addHandler(socket)
        try pipeline.addHandler(self)
    }

    /// Stops accepting connections and closes the datagram channel once its last stream has ended (at once if
    /// there is none): what closing a listener means when the listening socket also carries the connections.
    public func closeWhenIdle() {
        closingWhenIdle = true
        closeIfIdle()
    }

    private func closeIfIdle() {
        guard closingWhenIdle, streams.isEmpty, let context else { return }
        context.close(promise: nil)
    }

    /// How many child channels are open or dialling.
    public var streamCount: Int { streams.count }

    /// Dials `address` over uTP: the child channel is made at once and runs `initializer`; the future succeeds with
    /// it, active, when the handshake completes, and fails (``UTPError/Code/connectionFailed``) if the peer
    /// resets, does not answer before the SYN's retries run out, or `timeout` passes first.
    public func createStream(
        to address: SocketAddress, timeout: TimeAmount? = nil, initializer: Initializer? = nil
    ) -> EventLoopFuture<UTPStreamChannel> {
        guard let loop else { preconditionFailure("UTPStreamMultiplexer.createStream before install(on:)") }
        guard let context, context.channel.isActive, let id = socket.connect(to: address) else {
            return loop.makeFailedFuture(
                UTPError(.cannotConnect, "the socket is closed or its connection table is full"))
        }
        let child = UTPStreamChannel(connectionID: id, incoming: false, parent: context.channel, multiplexer: self)
        streams[id] = child
        var dial = Dial(promise: loop.makePromise())
        if let timeout {
            dial.timeout = loop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                guard let dial = dials.removeValue(forKey: id) else { return }
                dial.promise.fail(UTPError(.connectionFailed, "no uTP handshake with \(address) within \(timeout)"))
                socket.abort(id)
            }
        }
        dials[id] = dial
        let future = dial.promise.futureResult
        child.register()
        let initialized = initializer?(child) ?? loop.makeSucceededVoidFuture()
        initialized.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success:
                dials[id]?.initialized = true
                completeDial(id)
            case .failure(let error):
                guard let dial = dials.removeValue(forKey: id) else { return }
                dial.timeout?.cancel()
                dial.promise.fail(error)
                socket.abort(id)
            }
        }
        return future
    }

    private func completeDial(_ id: UTPConnectionID) {
        guard let dial = dials[id], dial.initialized, dial.connected, let child = streams[id] else { return }
        dials[id] = nil
        dial.timeout?.cancel()
        child.becomeActive()
        dial.promise.succeed(child)
    }

    // MARK: - ChannelHandler

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop = context.eventLoop
    }

    public func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Only datagrams that are not uTP get here (the socket handler keeps the others).
        context.fireChannelRead(data)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        let ready = readers
        readers.removeAll(keepingCapacity: true)
        socket.batchingFlushes {
            for child in ready {
                child.awaitingDelivery = false
                child.deliverPendingReads()
            }
        }
        context.fireChannelReadComplete()
    }

    // MARK: - UTPSocketDelegate

    public func utpConnected(_ connection: UTPConnectionID, incoming: Bool, socket: UTPSocketHandler) {
        guard incoming else {
            dials[connection]?.connected = true
            completeDial(connection)
            return
        }
        guard let context, let inboundInitializer, !closingWhenIdle, streams[connection] == nil else {
            socket.abort(connection)
            return
        }
        let child = UTPStreamChannel(
            connectionID: connection, incoming: true, parent: context.channel, multiplexer: self)
        streams[connection] = child
        child.register()
        inboundInitializer(child).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success: child.becomeActive()
            case .failure: self.socket.abort(connection)
            }
        }
    }

    public func utpReceived(_ bytes: ByteBuffer, on connection: UTPConnectionID, socket: UTPSocketHandler) {
        guard let child = streams[connection] else { return }
        child.receive(bytes)
        awaitDelivery(child)
    }

    public func utpEndOfStream(on connection: UTPConnectionID, socket: UTPSocketHandler) {
        guard let child = streams[connection] else { return }
        child.peerEnded()
        awaitDelivery(child)
    }

    public func utpClosed(_ connection: UTPConnectionID, reason: UTPCloseReason, socket: UTPSocketHandler) {
        let child = streams.removeValue(forKey: connection)
        if let dial = dials.removeValue(forKey: connection) {
            dial.timeout?.cancel()
            dial.promise.fail(UTPError(.connectionFailed, "the uTP handshake failed: \(reason)"))
        }
        child?.connectionEnded(reason)
        closeIfIdle()
    }

    public func utpWritable(_ connection: UTPConnectionID, socket: UTPSocketHandler) {
        streams[connection]?.connectionWritable()
    }

    private func awaitDelivery(_ child: UTPStreamChannel) {
        guard !child.awaitingDelivery else { return }
        child.awaitingDelivery = true
        readers.append(child)
    }
}
