import BTMetainfo
import NIOCore

/// A command for the ``PeerStateMachine`` inside a ``PeerChannelHandler``: written into the channel
/// pipeline, or given to ``PeerChannelHandler/apply(_:flush:)`` by code on the channel's event loop.
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

/// How an incoming connection's handshake is answered (see ``PeerChannelDelegate``).
public enum PeerChannelRoute: Sendable {
    /// Serve the torrent the handshake named with this state machine (made with `incoming: true`).
    case accept(PeerStateMachine)
    /// Close the connection for this reason (the delegate reports it; nothing is sent).
    case refuse(DisconnectReason)
}

/// The owner of the peer connections a ``PeerChannelHandler`` drives: the engine, or any code that uses
/// BTWire alone. Every call comes on the channel's event loop, synchronously, so a delegate confined to that
/// loop needs no locks.
public protocol PeerChannelDelegate: AnyObject {
    /// An incoming connection's handshake arrived (decoded once, by the handler): choose the torrent's state
    /// machine, or refuse. The default refuses with ``DisconnectReason/noSuchTorrent``.
    func peerChannel(_ handler: PeerChannelHandler, route handshake: Handshake) -> PeerChannelRoute
    /// An incoming connection closed before its handshake chose a torrent (malformed, timed out, closed by
    /// the peer); `reason` says why. Not called after a ``PeerChannelRoute/refuse(_:)``.
    func peerChannel(_ handler: PeerChannelHandler, closedBeforeHandshake reason: DisconnectReason)
    /// The connection of a handler made with a machine became active: return false to close it before
    /// anything is sent (an address the filter refuses once a name resolved). The default returns true.
    func peerChannelShouldStart(_ handler: PeerChannelHandler) -> Bool
    /// An action other than a send (those the handler writes itself), in the machine's order.
    func peerChannel(_ handler: PeerChannelHandler, didEmit action: PeerAction)
    /// The handler finished acting on input from the peer or the clock (bytes read, the connection
    /// closed, a tick): the place to top up requests. Not called for ``PeerChannelHandler/apply(_:flush:)``.
    func peerChannelDidAct(_ handler: PeerChannelHandler)
    /// Bytes arrived from the peer (before decoding).
    func peerChannel(_ handler: PeerChannelHandler, didRead bytes: Int)
    /// Bytes were handed to the channel (handshake and messages).
    func peerChannel(_ handler: PeerChannelHandler, didWrite bytes: Int)
    /// Written bytes left the process: ``PeerChannelHandler/queuedOutputBytes`` fell by `bytes`.
    func peerChannel(_ handler: PeerChannelHandler, didSend bytes: Int)
    /// A burst of reads ended and its writes were flushed.
    func peerChannelReadComplete(_ handler: PeerChannelHandler)
}

extension PeerChannelDelegate {
    /// Refuses: this delegate serves no incoming connection.
    public func peerChannel(_ handler: PeerChannelHandler, route handshake: Handshake) -> PeerChannelRoute {
        .refuse(.noSuchTorrent)
    }
    /// Ignored.
    public func peerChannel(_ handler: PeerChannelHandler, closedBeforeHandshake reason: DisconnectReason) {}
    /// Starts.
    public func peerChannelShouldStart(_ handler: PeerChannelHandler) -> Bool { true }
    /// Ignored.
    public func peerChannelDidAct(_ handler: PeerChannelHandler) {}
    /// Ignored.
    public func peerChannel(_ handler: PeerChannelHandler, didRead bytes: Int) {}
    /// Ignored.
    public func peerChannel(_ handler: PeerChannelHandler, didWrite bytes: Int) {}
    /// Ignored.
    public func peerChannel(_ handler: PeerChannelHandler, didSend bytes: Int) {}
    /// Ignored.
    public func peerChannelReadComplete(_ handler: PeerChannelHandler) {}
}

/// The SwiftNIO driver of a ``PeerStateMachine``, the only one in NetBitTorrent: the engine uses it for
/// every peer, and so can anyone who imports BTWire alone.
///
/// - Bytes read from the channel go into the machine; `send` actions are framed and written here (a `piece`
///   as its 13-byte header plus the block's own buffer, gathered by the channel into one write, never
///   copied), and flushed once per read burst (`channelReadComplete`) rather than once per message.
/// - Every other ``PeerAction`` goes to the ``PeerChannelDelegate`` when there is one, else it is passed on
///   inbound for the next handler in the pipeline.
/// - ``PeerCommand``s come as pipeline writes or, from code on the event loop, through
///   ``apply(_:flush:)``.
/// - An incoming connection (made with `machine: nil`) decodes the peer's handshake once, asks the delegate
///   which torrent it is for, and starts that torrent's machine with the decoded handshake; a connection
///   that sends no handshake within `handshakeTimeout` is closed.
/// - Every byte handed to the channel counts in ``queuedOutputBytes`` until the socket took it, so the
///   owner can bound what a peer that does not read makes us hold.
///
/// All state stays on the channel's event loop. With a `tickInterval` the handler ticks the machine itself;
/// without, the owner calls ``tick(now:)`` (the engine ticks all its peers from one timer).
public final class PeerChannelHandler: ChannelDuplexHandler {
    /// Bytes from the peer.
    public typealias InboundIn = ByteBuffer
    /// Actions for the next handler (when there is no delegate).
    public typealias InboundOut = PeerAction
    /// Commands from the next handler.
    public typealias OutboundIn = PeerCommand
    /// Bytes to the peer.
    public typealias OutboundOut = ByteBuffer

    /// The state machine (nil for an incoming connection until its handshake chose a torrent). Read it on
    /// the channel's event loop only; change it through ``withMachine(_:)``.
    public private(set) var machine: PeerStateMachine?
    /// Bytes handed to the channel that the socket has not taken yet (every message, not only blocks).
    public private(set) var queuedOutputBytes = 0
    /// The channel, once the handler is added.
    public private(set) var channel: (any Channel)?

    /// Receives actions and routes incoming handshakes; held weakly (it owns the connections).
    public weak var delegate: (any PeerChannelDelegate)?

    private let tickInterval: TimeAmount?
    private let handshakeTimeout: TimeAmount
    private var ticker: RepeatedTask?
    private var handshakeDeadline: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// Bytes of an incoming connection that arrived before its handshake was complete.
    private var pendingHandshake: ByteBuffer?
    /// Written and not flushed yet.
    private var needsFlush = false
    /// Inside `channelRead`: flushing waits for `channelReadComplete`.
    private var inReadBurst = false
    /// Closed (or closing): nothing more is read, written or reported.
    private var isClosed = false
    /// Started (``PeerStateMachine/startConnecting(now:)`` and the handshake deadline).
    private var started = false

    /// Creates a handler around `machine` (nil: an incoming connection whose torrent the handshake chooses,
    /// through `delegate`), ticking it every `tickInterval` (nil: the owner calls ``tick(now:)``).
    public init(
        machine: PeerStateMachine?, delegate: (any PeerChannelDelegate)? = nil,
        tickInterval: TimeAmount? = .seconds(1), handshakeTimeout: TimeAmount = .seconds(30)
    ) {
        self.machine = machine
        self.delegate = delegate
        self.tickInterval = tickInterval
        self.handshakeTimeout = handshakeTimeout
    }

    // MARK: Pipeline events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
        if context.channel.isActive { start(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        stopTimers()
        self.context = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let now = self.now
        if machine != nil {
            guard delegate?.peerChannelShouldStart(self) ?? true else {
                isClosed = true
                context.close(promise: nil)
                return
            }
            var actions = withMachine { $0.startConnecting(now: now) } ?? []
            actions += withMachine { $0.connectionEstablished(now: now) } ?? []
            perform(actions)
            flushIfNeeded()
        } else {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            handshakeDeadline = context.eventLoop.scheduleTask(in: handshakeTimeout) {
                let handler = bound.value
                handler.handshakeDeadline = nil
                if handler.machine == nil { handler.closeBeforeHandshake(.handshakeTimeout) }
            }
        }
        if let tickInterval {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: tickInterval, delay: tickInterval) { _ in
                let handler = bound.value
                handler.tick(now: handler.now)
            }
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosed else { return }
        let bytes = unwrapInboundIn(data)
        delegate?.peerChannel(self, didRead: bytes.readableBytes)
        inReadBurst = true
        defer { inReadBurst = false }
        let now = self.now
        if machine == nil {
            guard let rest = routeHandshake(bytes, now: now) else { return }
            if rest.readableBytes > 0 { perform(withMachine { $0.receive(rest, now: now) } ?? []) }
        } else {
            perform(withMachine { $0.receive(bytes, now: now) } ?? [])
        }
        if !isClosed { delegate?.peerChannelDidAct(self) }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        if !isClosed { delegate?.peerChannelReadComplete(self) }
        context.fireChannelReadComplete()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stopTimers()
        if machine == nil {
            closeBeforeHandshake(.byRemote)
        } else if !isClosed {
            perform(withMachine { $0.connectionClosed(now: self.now) } ?? [])
        }
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if machine == nil {
            closeBeforeHandshake(.ioError)
        } else if !isClosed {
            perform(withMachine { $0.connectionClosed(error: "\(error)", now: self.now) } ?? [])
        }
        context.close(promise: nil)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        apply(unwrapOutboundIn(data))
        promise?.succeed(())
    }

    // MARK: Driving the machine

    /// Runs `body` on the machine moved out of the handler and puts it back: while it is out, its buffers
    /// and tables are uniquely referenced and mutated in place (a copy would share them, and the first
    /// mutation of each would copy it whole). Nil when there is no machine yet. Actions `body` returns are
    /// not performed: pass them to ``perform(_:flush:)``.
    public func withMachine<R>(_ body: (inout PeerStateMachine) -> R) -> R? {
        guard var moved = machine else { return nil }
        machine = nil
        defer { machine = moved }
        return body(&moved)
    }

    /// Replaces the machine of a handler that has not started yet (a dial's connection hands over its
    /// up-to-date machine when the channel that won the connect becomes active).
    package func adopt(_ machine: PeerStateMachine) {
        self.machine = machine
    }

    /// Applies `command` to the machine and performs what it answers; flushes unless `flush` is false
    /// (then call ``flushIfNeeded()`` after a batch) or a read burst is under way.
    public func apply(_ command: PeerCommand, flush: Bool = true) {
        guard !isClosed else { return }
        let now = self.now
        let actions: [PeerAction]? = withMachine { machine in
            switch command {
            case .request(let blocks): machine.request(blocks, now: now)
            case .cancel(let block): machine.cancel(block, now: now)
            case .choke: machine.choke(now: now)
            case .unchoke: machine.unchoke(now: now)
            case .interested(let interested): machine.setInterested(interested, now: now)
            case .have(let piece): machine.havePiece(piece, now: now)
            case .blockRead(let request, let data): machine.blockRead(request, data: data, now: now)
            case .blockUnavailable(let request): machine.blockUnavailable(request, now: now)
            case .pieceVerified(let piece): machine.pieceVerified(piece, now: now)
            case .pieceFailed(let piece): machine.pieceFailed(piece, now: now)
            case .suggest(let piece): machine.suggest(piece: piece, now: now)
            case .allowFast(let piece): machine.allowFast(piece: piece, now: now)
            case .sendExtension(let payload): machine.sendExtension(payload, now: now)
            case .disconnect(let reason): machine.disconnect(reason, now: now)
            }
        }
        if let actions { perform(actions, flush: flush) }
    }

    /// Ticks the machine (timeouts, keep-alives, snubbing) and performs what it answers.
    public func tick(now: NIODeadline) {
        guard !isClosed, let actions = withMachine({ $0.tick(now: now) }) else { return }
        perform(actions)
        if !isClosed { delegate?.peerChannelDidAct(self) }
    }

    /// Performs actions the machine returned from ``withMachine(_:)``: sends are framed and written, the
    /// rest go to the delegate (or inbound); a disconnect flushes and closes the channel. Flushes at the end
    /// unless `flush` is false or a read burst is under way (it flushes when the burst ends).
    public func perform(_ actions: [PeerAction], flush: Bool = true) {
        var batch = WriteBatch()
        var closing = false
        for action in actions {
            guard !isClosed else { break }
            switch action {
            case .sendHandshake(let handshake):
                var buffer = allocator.buffer(capacity: Handshake.length)
                handshake.encode(into: &buffer)
                batch.add(buffer, through: self)
            case .send(.piece(let block)):
                // The 13-byte header, then the block's own buffer: the channel gathers both in one write.
                var header = allocator.buffer(capacity: 13)
                header.writeInteger(UInt32(9 + block.data.readableBytes))
                header.writeInteger(UInt8(7))
                header.writeInteger(UInt32(block.piece))
                header.writeInteger(UInt32(block.offset))
                batch.add(header, through: self)
                batch.add(block.data, through: self)
            case .send(let message):
                var buffer = allocator.buffer(capacity: 4 + message.payloadLength)
                message.encode(into: &buffer)
                batch.add(buffer, through: self)
            case .disconnect:
                // What was written goes out before the delegate hears of the close (it may close the channel).
                closing = true
                commit(&batch)
                flushIfNeeded()
                emit(action)
            default:
                // What the delegate does may write to this channel: what this batch wrote goes first.
                commit(&batch)
                emit(action)
            }
        }
        commit(&batch)
        if closing {
            isClosed = true
            flushIfNeeded()
            stopTimers()
            context?.close(promise: nil)
        } else if flush && !inReadBurst {
            flushIfNeeded()
        }
    }

    /// Buffers written by one ``perform(_:flush:)``, the last one held back so that it can carry the promise
    /// that tells when the socket took the whole batch (writes complete in order).
    private struct WriteBatch {
        var held: ByteBuffer?
        var bytes = 0

        mutating func add(_ buffer: ByteBuffer, through handler: PeerChannelHandler) {
            if let previous = held, let context = handler.context {
                context.write(handler.wrapOutboundOut(previous), promise: nil)
            }
            held = buffer
            bytes += buffer.readableBytes
        }
    }

    /// Writes the batch's last buffer with a promise that gives its bytes back to ``queuedOutputBytes``.
    private func commit(_ batch: inout WriteBatch) {
        guard let last = batch.held, let context else { return }
        let written = batch.bytes
        batch = WriteBatch()
        queuedOutputBytes += written
        let promise = context.eventLoop.makePromise(of: Void.self)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in
            let handler = bound.value
            handler.queuedOutputBytes -= written
            if !handler.isClosed { handler.delegate?.peerChannel(handler, didSend: written) }
        }
        context.write(wrapOutboundOut(last), promise: promise)
        needsFlush = true
        delegate?.peerChannel(self, didWrite: written)
    }

    /// Flushes what was written since the last flush.
    public func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    // MARK: Internals

    private var allocator: ByteBufferAllocator { channel?.allocator ?? ByteBufferAllocator() }

    /// The event loop's clock (a test loop's virtual one), else the system's.
    private var now: NIODeadline { context?.eventLoop.now ?? .now() }

    private func emit(_ action: PeerAction) {
        if let delegate {
            delegate.peerChannel(self, didEmit: action)
        } else if let context {
            context.fireChannelRead(wrapInboundOut(action))
        }
    }

    /// Decodes the handshake of an incoming connection from what arrived so far; once complete, asks the
    /// delegate for the torrent's machine and gives it the handshake. Returns the bytes after the handshake
    /// when the machine is running, nil otherwise (more bytes needed, or refused and closed).
    private func routeHandshake(_ bytes: ByteBuffer, now: NIODeadline) -> ByteBuffer? {
        var buffer = bytes
        if var pending = pendingHandshake {
            pending.writeImmutableBuffer(bytes)
            buffer = pending
        }
        let handshake: Handshake?
        do {
            handshake = try Handshake.decode(from: &buffer)
        } catch {
            closeBeforeHandshake(.malformedHandshake)
            return nil
        }
        guard let handshake else {
            pendingHandshake = buffer
            return nil
        }
        pendingHandshake = nil
        handshakeDeadline?.cancel()
        handshakeDeadline = nil
        let route = delegate?.peerChannel(self, route: handshake) ?? .refuse(.noSuchTorrent)
        switch route {
        case .refuse:
            isClosed = true
            stopTimers()
            context?.close(promise: nil)
            return nil
        case .accept(var accepted):
            let actions = accepted.receive(handshake: handshake, now: now)
            machine = accepted
            perform(actions)
            return isClosed ? nil : buffer
        }
    }

    private func closeBeforeHandshake(_ reason: DisconnectReason) {
        guard !isClosed else { return }
        isClosed = true
        stopTimers()
        pendingHandshake = nil
        delegate?.peerChannel(self, closedBeforeHandshake: reason)
        context?.close(promise: nil)
    }

    private func stopTimers() {
        ticker?.cancel()
        ticker = nil
        handshakeDeadline?.cancel()
        handshakeDeadline = nil
    }
}

@available(*, unavailable)
extension PeerChannelHandler: Sendable {}
