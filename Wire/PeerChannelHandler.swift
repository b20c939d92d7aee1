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
///   copied, or plus a file region with ``sendPiece(_:from:flush:)``, sent with `sendfile(2)`), and flushed
///   once per read burst (`channelReadComplete`) rather than once per message.
/// - Every other ``PeerAction`` goes to the ``PeerChannelDelegate`` when there is one, else it is passed on
///   inbound for the next handler in the pipeline.
/// - ``PeerCommand``s come as pipeline writes or, from code on the event loop, through
///   ``apply(_:flush:)``.
/// - An incoming connection (made with `machine: nil`) decodes the peer's handshake once, asks the delegate
///   which torrent it is for, and starts that torrent's machine with the decoded handshake; a connection
///   that sends no handshake within `handshakeTimeout` is closed.
/// - Small messages (rejects, haves, chokes, extension messages, a block's 13-byte header) are coalesced
///   into one buffer per flush, not one buffer, write and promise each.
/// - Everything queued for the peer counts in ``queuedOutput`` (bytes, messages, writes) until the socket
///   took it; with an ``outputBudget`` the handler closes the connection with
///   ``DisconnectReason/sendBufferFull`` as soon as its ``PeerOutputQueue/cost`` passes the budget, so a
///   peer that does not read cannot make us hold more. A large read is acted on in steps of
///   ``messagesPerStep`` messages, so the budget is checked within a read, not only after it.
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
    /// Bytes to the peer: buffers, and file regions for blocks sent with ``sendPiece(_:from:flush:)``.
    public typealias OutboundOut = IOData

    /// The state machine (nil for an incoming connection until its handshake chose a torrent). Read it on
    /// the channel's event loop only; change it through ``withMachine(_:)``.
    public private(set) var machine: PeerStateMachine?
    /// Bytes handed to the channel that the socket has not taken yet (every message, not only blocks).
    public var queuedOutputBytes: Int { queuedOutput.bytes }
    /// Everything queued for the peer that the socket has not taken yet: bytes, messages and writes.
    public private(set) var queuedOutput = PeerOutputQueue()
    /// ``queuedOutput``'s cost: bytes plus the per-message and per-write overheads a budget bounds.
    public var queuedOutputCost: Int { queuedOutput.cost }
    /// The most ``queuedOutputCost`` the peer may make us hold; past it the connection is closed with
    /// ``DisconnectReason/sendBufferFull``. Nil: the owner bounds it (the engine checks its own bound
    /// after each write).
    public var outputBudget: PeerOutputBudget?
    /// Messages acted on per step of a large read before their answers are performed and the budget is
    /// checked.
    public static let messagesPerStep = 256
    /// Coalesced small messages above this size are handed to the channel without waiting for the flush.
    static let stagedWriteThreshold = 64 * 1024
    /// The channel, once the handler is added.
    public private(set) var channel: (any Channel)?

    /// Receives actions and routes incoming handshakes; held weakly (it owns the connections).
    public weak var delegate: (any PeerChannelDelegate)?

    private let tickInterval: TimeAmount?
    private let handshakeTimeout: TimeAmount
    private var ticker: RepeatedTask?
    private var handshakeDeadline: Scheduled<Void>?
    private(set) var context: ChannelHandlerContext?
    /// Bytes of an incoming connection that arrived before its handshake was complete.
    private var pendingHandshake: ByteBuffer?
    /// Written and not flushed yet.
    private var needsFlush = false
    /// Small messages encoded and not handed to the channel yet (one buffer for all of them).
    private var staged: ByteBuffer?
    /// The buffer or file region to hand to the channel next: held back so that the last write of a batch
    /// can carry the promise that tells when the socket took the batch (writes complete in order).
    private var held: IOData?
    /// Queued since the last promise: what that promise gives back.
    private var uncommitted = PeerOutputQueue()
    /// Inside `channelRead`: flushing waits for `channelReadComplete`.
    private var inReadBurst = false
    /// Closed (or closing): nothing more is read, written or reported.
    private(set) var isClosed = false
    /// Started (``PeerStateMachine/startConnecting(now:)`` and the handshake deadline).
    private var started = false
    /// The socket is corked while file regions are queued (see `PeerChannelHandler+Cork.swift`).
    var isCorked = false
    /// Whether blocks sent from files cork the socket (true; false only to measure without).
    public var corksFileRegions = true
    /// Small reads of a trickling peer (nil: reads are never spaced); see `PeerChannelHandler+TrickledReads`.
    var trickle: TrickleDetector?
    /// The spaced read waiting for its time.
    var spacedRead: Scheduled<Void>?

    /// Creates a handler around `machine` (nil: an incoming connection whose torrent the handshake chooses,
    /// through `delegate`), ticking it every `tickInterval` (nil: the owner calls ``tick(now:)``).
    /// With an `outputBudget`, a peer that makes us queue more than it allows is disconnected (see
    /// ``outputBudget``). A peer that trickles its messages gets its reads spaced out as `trickledReads`
    /// says (nil: never).
    public init(
        machine: PeerStateMachine?, delegate: (any PeerChannelDelegate)? = nil,
        tickInterval: TimeAmount? = .seconds(1), handshakeTimeout: TimeAmount = .seconds(30),
        outputBudget: PeerOutputBudget? = nil, trickledReads: TrickledReads? = TrickledReads()
    ) {
        self.trickle = trickledReads.map(TrickleDetector.init)
        self.machine = machine
        self.delegate = delegate
        self.tickInterval = tickInterval
        self.handshakeTimeout = handshakeTimeout
        self.outputBudget = outputBudget
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
            if rest.readableBytes > 0 { receiveInSteps(rest, now: now) }
        } else {
            receiveInSteps(bytes, now: now)
        }
        observeRead(of: bytes.readableBytes)
        if !isClosed { delegate?.peerChannelDidAct(self) }
    }

    /// Gives `bytes` to the machine and performs its answers ``messagesPerStep`` messages at a time: a 1 MiB
    /// read of request+cancel pairs is 30,000 rejects, and neither their actions nor their output should
    /// pile up before the budget is checked.
    private func receiveInSteps(_ bytes: ByteBuffer, now: NIODeadline) {
        var input = bytes
        var more = true
        while more && !isClosed {
            more = false
            let actions = withMachine {
                $0.receive(input, now: now, maximumMessages: Self.messagesPerStep, moreBuffered: &more)
            }
            input = ByteBuffer()
            guard let actions else { return }
            perform(actions)
        }
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
        // Moved out and back, not copied: a copy retains and releases every reference the machine holds, and
        // this runs several times per block (profiled: 8 % of a seed's CPU before).
        guard var moved = machine.take() else { return nil }
        let result = body(&moved)
        machine = moved
        return result
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
            case .suggest(let piece): machine.suggest(piece: piece, now: now)
            case .allowFast(let piece): machine.allowFast(piece: piece, now: now)
            case .sendExtension(let payload): machine.sendExtension(payload, now: now)
            case .disconnect(let reason): machine.disconnect(reason, now: now)
            }
        }
        if let actions { perform(actions, flush: flush) }
    }

    /// Answers an accepted request with its block straight from a file: the 13-byte `piece` header
    /// (coalesced with the other small messages) and `region`, which the channel sends with `sendfile(2)`,
    /// the bytes never copied into this process. Only for a channel whose pipeline writes file regions to a
    /// socket as they are (plain TCP: no MSE, no uTP). Returns false, sending nothing, when the machine no
    /// longer serves the request (``PeerStateMachine/blockSendingFromFile(_:now:)``) or the connection is
    /// closed. The region counts in ``queuedOutput`` like a block in memory, and the ``outputBudget`` is
    /// checked. Flushes unless `flush` is false or a read burst is under way, like ``apply(_:flush:)``.
    @discardableResult
    public func sendPiece(_ request: BlockRequest, from region: FileRegion, flush: Bool = true) -> Bool {
        guard !isClosed, context != nil, region.readableBytes == request.length else { return false }
        let now = self.now
        guard withMachine({ $0.blockSendingFromFile(request, now: now) }) == true else { return false }
        stage(length: 13) { buffer in
            buffer.writeInteger(UInt32(9 + request.length))
            buffer.writeInteger(UInt8(7))
            buffer.writeInteger(UInt32(request.piece))
            buffer.writeInteger(UInt32(request.offset))
        }
        corkForFileRegion()
        pass(.fileRegion(region), bytes: request.length)
        if let budget = outputBudget, queuedOutput.cost > budget.maximumCost {
            overBudget(budget)
            return true
        }
        if (staged?.readableBytes ?? 0) >= Self.stagedWriteThreshold { commit() }
        if flush && !inReadBurst { flushIfNeeded() }
        return true
    }

    /// Ticks the machine (timeouts, keep-alives, snubbing) and performs what it answers.
    public func tick(now: NIODeadline) {
        guard !isClosed, let actions = withMachine({ $0.tick(now: now) }) else { return }
        perform(actions)
        if !isClosed { delegate?.peerChannelDidAct(self) }
    }

    /// Performs actions the machine returned from ``withMachine(_:)``: sends are framed and queued (small
    /// ones coalesced), the rest go to the delegate (or inbound); a disconnect flushes and closes the
    /// channel. Flushes at the end unless `flush` is false or a read burst is under way (it flushes when the
    /// burst ends). Past the ``outputBudget`` the connection is closed with
    /// ``DisconnectReason/sendBufferFull`` and the remaining actions are dropped.
    public func perform(_ actions: [PeerAction], flush: Bool = true) {
        var closing = false
        for action in actions {
            guard !isClosed else { break }
            switch action {
            case .sendHandshake(let handshake):
                stage(length: Handshake.length) { handshake.encode(into: &$0) }
            case .send(.piece(let block)):
                // The 13-byte header (coalesced), then the block's own buffer: the channel gathers them.
                stage(length: 13) { buffer in
                    buffer.writeInteger(UInt32(9 + block.data.readableBytes))
                    buffer.writeInteger(UInt8(7))
                    buffer.writeInteger(UInt32(block.piece))
                    buffer.writeInteger(UInt32(block.offset))
                }
                pass(.byteBuffer(block.data), bytes: block.data.readableBytes)
            case .send(let message):
                stage(length: 4 + message.payloadLength) { message.encode(into: &$0) }
            case .disconnect:
                // What was queued goes out before the delegate hears of the close (it may close the channel).
                closing = true
                flushIfNeeded()
                emit(action)
            default:
                // What the delegate does may write to this channel: its messages are staged after these, in
                // order, in the same buffer.
                emit(action)
            }
            if !closing, !isClosed, let budget = outputBudget, queuedOutput.cost > budget.maximumCost {
                overBudget(budget)
                return
            }
        }
        if (staged?.readableBytes ?? 0) >= Self.stagedWriteThreshold { commit() }
        if closing {
            isClosed = true
            flushIfNeeded()
            stopTimers()
            context?.close(promise: nil)
        } else if flush && !inReadBurst {
            flushIfNeeded()
        }
    }

    /// The peer let more than `budget` pile up: the machine closes with ``DisconnectReason/sendBufferFull``.
    private func overBudget(_ budget: PeerOutputBudget) {
        let detail =
            "\(queuedOutput.bytes) bytes in \(queuedOutput.messages) messages (cost \(queuedOutput.cost)) queued "
            + "and not read, over \(budget.maximumCost)"
        let now = self.now
        let actions = withMachine { $0.disconnect(.sendBufferFull, detail: detail, now: now) } ?? []
        // What is queued is handed over and fails with the closed channel, which gives its count back.
        perform(actions)
        if !isClosed {
            isClosed = true
            stopTimers()
            context?.close(promise: nil)
        }
    }

    /// Encodes a small message of `length` bytes into the staging buffer (allocated once per flush).
    private func stage(length: Int, _ encode: (inout ByteBuffer) -> Void) {
        guard context != nil else { return }
        var buffer = staged ?? allocator.buffer(capacity: max(256, length))
        staged = nil  // uniquely referenced while it is written
        let before = buffer.readableBytes
        encode(&buffer)
        let written = buffer.readableBytes - before
        staged = buffer
        uncommitted.bytes += written
        uncommitted.messages += 1
        queuedOutput.bytes += written
        queuedOutput.messages += 1
        if before == 0 {
            uncommitted.writes += 1
            queuedOutput.writes += 1
        }
    }

    /// Queues `buffer` (a block's data, in memory or a file region) after what is staged, in order.
    private func pass(_ buffer: IOData, bytes: Int) {
        guard let context else { return }
        if let previous = staged, previous.readableBytes > 0 {
            staged = nil
            hold(.byteBuffer(previous), context: context)
        }
        hold(buffer, context: context)
        uncommitted.bytes += bytes
        uncommitted.writes += 1
        queuedOutput.bytes += bytes
        queuedOutput.writes += 1
    }

    private func hold(_ buffer: IOData, context: ChannelHandlerContext) {
        if let previous = held { context.write(wrapOutboundOut(previous), promise: nil) }
        held = buffer
    }

    /// Hands what is staged and held to the channel, the last write with a promise that gives what was
    /// queued since the last promise back to ``queuedOutput`` once the socket took it.
    private func commit() {
        guard let context else {
            staged = nil
            held = nil
            return
        }
        if let previous = staged, previous.readableBytes > 0 {
            staged = nil
            hold(.byteBuffer(previous), context: context)
        }
        guard let last = held else { return }
        held = nil
        let written = uncommitted
        uncommitted = PeerOutputQueue()
        let promise = context.eventLoop.makePromise(of: Void.self)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in
            let handler = bound.value
            handler.queuedOutput.remove(written)
            handler.uncorkIfDrained()
            if !handler.isClosed { handler.delegate?.peerChannel(handler, didSend: written.bytes) }
        }
        context.write(wrapOutboundOut(last), promise: promise)
        needsFlush = true
        delegate?.peerChannel(self, didWrite: written.bytes)
    }

    /// Hands what is queued to the channel and flushes what was written since the last flush.
    public func flushIfNeeded() {
        commit()
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
        spacedRead?.cancel()
        spacedRead = nil
    }
}

@available(*, unavailable)
extension PeerChannelHandler: Sendable {}
