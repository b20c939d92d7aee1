import NIOCore

/// A command for the ``PeerStateMachine`` inside a ``PeerChannelHandler``, written into the channel pipeline.
public enum PeerCommand: Hashable, Sendable {
    /// Request these blocks (see ``PeerStateMachine/request(_:now:)``).
    case request([BlockRequest])
    /// Cancel a request in flight.
    case cancel(BlockRequest)
    /// Choke the peer.
    case choke
    /// Unchoke the peer.
    case unchoke
    /// Set our interest by hand.
    case interested(Bool)
    /// We now have this piece.
    case have(piece: Int)
    /// The storage read asked for by ``PeerAction/readBlock(_:)`` finished.
    case blockRead(BlockRequest, ByteBuffer)
    /// The storage read failed.
    case blockUnavailable(BlockRequest)
    /// A piece this peer contributed to passed its hash check.
    case pieceVerified(Int)
    /// A piece this peer contributed to failed its hash check.
    case pieceFailed(Int)
    /// Suggest a piece (BEP 6).
    case suggest(piece: Int)
    /// Allow a piece fast (BEP 6).
    case allowFast(piece: Int)
    /// Send an extension message (BEP 10).
    case sendExtension(ExtensionPayload)
    /// Close the connection.
    case disconnect(DisconnectReason)
}

/// The thin SwiftNIO driver of a ``PeerStateMachine``: bytes read from the channel go into the machine,
/// `send` actions are written to the channel, every other ``PeerAction`` is passed on inbound for the next
/// handler (the engine) to act on, and ``PeerCommand``s written into the pipeline are applied to the machine.
/// A repeated task on the channel's event loop calls ``PeerStateMachine/tick(now:)``. All state stays on the
/// event loop.
///
/// Commands written from inside `channelRead` of an action are applied at once (re-entrantly): a handler must
/// not answer ``PeerAction/requestsReturned(_:)`` by requesting the same blocks again in the same call, or it
/// loops while the pipeline is full.
public final class PeerChannelHandler: ChannelDuplexHandler {
    /// Bytes from the peer.
    public typealias InboundIn = ByteBuffer
    /// Actions for the next handler.
    public typealias InboundOut = PeerAction
    /// Commands from the next handler.
    public typealias OutboundIn = PeerCommand
    /// Bytes to the peer.
    public typealias OutboundOut = ByteBuffer

    /// The state machine (read it on the channel's event loop only).
    public private(set) var machine: PeerStateMachine
    private let tickInterval: TimeAmount
    private var ticker: RepeatedTask?

    /// Creates a handler around `machine`, ticking it every `tickInterval`.
    public init(machine: PeerStateMachine, tickInterval: TimeAmount = .seconds(1)) {
        self.machine = machine
        self.tickInterval = tickInterval
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard ticker == nil else { return }
        let now = NIODeadline.now()
        var actions = machine.startConnecting(now: now)
        actions += machine.connectionEstablished(now: now)
        perform(actions, context: context)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: tickInterval, delay: tickInterval) { _ in
            let (handler, context) = bound.value
            handler.perform(handler.machine.tick(now: .now()), context: context)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(machine.receive(unwrapInboundIn(data), now: .now()), context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        ticker?.cancel()
        ticker = nil
        perform(machine.connectionClosed(now: .now()), context: context)
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        perform(machine.connectionClosed(error: "\(error)", now: .now()), context: context)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let now = NIODeadline.now()
        let actions: [PeerAction]
        switch unwrapOutboundIn(data) {
        case .request(let blocks): actions = machine.request(blocks, now: now)
        case .cancel(let block): actions = machine.cancel(block, now: now)
        case .choke: actions = machine.choke(now: now)
        case .unchoke: actions = machine.unchoke(now: now)
        case .interested(let interested): actions = machine.setInterested(interested, now: now)
        case .have(let piece): actions = machine.havePiece(piece, now: now)
        case .blockRead(let request, let data): actions = machine.blockRead(request, data: data, now: now)
        case .blockUnavailable(let request): actions = machine.blockUnavailable(request, now: now)
        case .pieceVerified(let piece): actions = machine.pieceVerified(piece, now: now)
        case .pieceFailed(let piece): actions = machine.pieceFailed(piece, now: now)
        case .suggest(let piece): actions = machine.suggest(piece: piece, now: now)
        case .allowFast(let piece): actions = machine.allowFast(piece: piece, now: now)
        case .sendExtension(let payload): actions = machine.sendExtension(payload, now: now)
        case .disconnect(let reason): actions = machine.disconnect(reason, now: now)
        }
        perform(actions, context: context)
        promise?.succeed(())
    }

    private func perform(_ actions: [PeerAction], context: ChannelHandlerContext) {
        var wrote = false
        var close = false
        for action in actions {
            switch action {
            case .sendHandshake(let handshake):
                var buffer = context.channel.allocator.buffer(capacity: Handshake.length)
                handshake.encode(into: &buffer)
                context.write(wrapOutboundOut(buffer), promise: nil)
                wrote = true
            case .send(let message):
                var buffer = context.channel.allocator.buffer(capacity: 4 + message.payloadLength)
                message.encode(into: &buffer)
                context.write(wrapOutboundOut(buffer), promise: nil)
                wrote = true
            case .disconnect:
                close = true
                context.fireChannelRead(wrapInboundOut(action))
            default:
                context.fireChannelRead(wrapInboundOut(action))
            }
        }
        if wrote { context.flush() }
        if close {
            ticker?.cancel()
            ticker = nil
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension PeerChannelHandler: Sendable {}
