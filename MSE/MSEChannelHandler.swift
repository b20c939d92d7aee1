import NIOCore

/// The SwiftNIO driver of MSE/PE: one handler between the socket and the BitTorrent wire (BTWire's
/// `PeerChannelHandler`), for either role. Bytes in, bytes out: the wire above it reads and writes
/// plaintext and never knows.
///
/// - ``initiator(skey:policy:handshakeTimeout:randomness:onResult:)`` (outgoing): when the channel becomes
///   active it first lets the handlers above start (the wire writes its BitTorrent handshake, which is held
///   here), then sends Ya with that handshake as the initial payload (IA).
/// - ``responder(policy:handshakeTimeout:randomness:index:onResult:)`` (incoming): tells a plaintext
///   BitTorrent handshake from an MSE one by the first bytes and answers the latter.
///
/// Until the stream is settled nothing goes up and our output is held (bounded by
/// ``MSELimits/maxHeldOutputBytes``; the promises of held writes complete with the write that carries
/// them). Once settled it reports the result (``result`` and `onResult`, before any byte goes up, so the
/// owner can mark the peer `isEncrypted` first), passes up the bytes that came with the handshake, and then
///   - with RC4: decrypts every read and encrypts every write in place (a buffer shared with someone else is
///     copied once by `ByteBuffer`'s copy-on-write; RC4 needs its own bytes);
///   - with plaintext: removes itself from the pipeline.
///
/// A failure (``MSEError``, also for a timeout and for a connection closed during the handshake) is
/// reported the same way and closes the channel. All state stays on the channel's event loop.
public final class MSEChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    /// Bytes from the peer (encrypted).
    public typealias InboundIn = ByteBuffer
    /// Bytes for the wire (plaintext).
    public typealias InboundOut = ByteBuffer
    /// Bytes from the wire (plaintext).
    public typealias OutboundIn = ByteBuffer
    /// Bytes to the peer (encrypted).
    public typealias OutboundOut = ByteBuffer

    /// Called once, on the channel's event loop, when the stream is settled or the handshake failed.
    public typealias ResultHandler = (Result<MSEChannelOutcome, MSEError>) -> Void

    /// How the stream was settled, or why it failed; nil while the handshake runs. Read it on the channel's
    /// event loop.
    public private(set) var result: Result<MSEChannelOutcome, MSEError>?

    private enum Phase {
        case settingUp
        case rc4
        case passthrough
        case failed(MSEError)
    }

    private let isInitiator: Bool
    private let handshakeTimeout: TimeAmount
    private let index: () -> SKEYIndex
    private let onResult: ResultHandler?
    private var phase = Phase.settingUp
    private var setup: MSEConnectionSetup
    // The ciphers live in the handler itself, not in `phase`, so that applying them mutates in place.
    private var outgoing: MSEStreamCipher?
    private var incoming: MSEStreamCipher?
    private var heldPromises: [EventLoopPromise<Void>] = []
    private var deadline: Scheduled<Void>?
    private var started = false
    private var context: ChannelHandlerContext?

    /// The handler for a connection we dialled to a peer of the torrent `skey` (its 20-byte v1 info-hash, or
    /// the v2 info-hash truncated to 20 bytes), under `policy`: ``EncryptionPolicy/required`` offers RC4
    /// only, ``EncryptionPolicy/preferred`` RC4 and plaintext, ``EncryptionPolicy/none`` does no MSE (the
    /// handler removes itself at once). A handshake not complete after `handshakeTimeout` fails;
    /// `randomness` nil draws fresh keys and pads (tests inject fixed ones).
    ///
    /// Add it in the channel initializer, before the connection is active, in front of (closer to the
    /// socket than) the wire handler.
    ///
    /// - Precondition: `skey` holds 20 bytes.
    public static func initiator(
        skey: [UInt8], policy: EncryptionPolicy, handshakeTimeout: TimeAmount = .seconds(30),
        randomness: MSEHandshakeRandomness? = nil, onResult: ResultHandler? = nil
    ) -> MSEChannelHandler {
        MSEChannelHandler(
            isInitiator: true, setup: .initiator(skey: skey, policy: policy, randomness: randomness),
            handshakeTimeout: handshakeTimeout, index: { SKEYIndex() }, onResult: onResult)
    }

    /// The handler for a connection we accepted, under `policy`: a plaintext BitTorrent handshake is passed
    /// through (refused under ``EncryptionPolicy/required``), an MSE handshake answered (refused under
    /// ``EncryptionPolicy/none``) for the torrents `index` returns when the handshake starts (the client's
    /// torrents change while it runs: give a closure over the current index, called on the event loop).
    public static func responder(
        policy: EncryptionPolicy, handshakeTimeout: TimeAmount = .seconds(30),
        randomness: MSEHandshakeRandomness? = nil, index: @escaping () -> SKEYIndex, onResult: ResultHandler? = nil
    ) -> MSEChannelHandler {
        MSEChannelHandler(
            isInitiator: false, setup: .responder(policy: policy, randomness: randomness),
            handshakeTimeout: handshakeTimeout, index: index, onResult: onResult)
    }

    private init(
        isInitiator: Bool, setup: MSEConnectionSetup, handshakeTimeout: TimeAmount, index: @escaping () -> SKEYIndex,
        onResult: ResultHandler?
    ) {
        self.isInitiator = isInitiator
        self.setup = setup
        self.handshakeTimeout = handshakeTimeout
        self.index = index
        self.onResult = onResult
    }

    // MARK: Pipeline events

    /// Keeps the context; starts at once when the channel is active already.
    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    /// Cancels the handshake timer.
    public func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        self.context = nil
    }

    /// The initiator lets the handlers above start first (the wire's handshake becomes the IA), then sends
    /// Ya; both roles arm the handshake timer.
    public func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        start(context: context)
    }

    private func start(context: ChannelHandlerContext) {
        guard !started, case .settingUp = phase else { return }
        started = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: handshakeTimeout) {
            let handler = bound.value
            handler.deadline = nil
            guard let context = handler.context, case .settingUp = handler.phase else { return }
            handler.perform(handler.setup.timedOut(), context: context)
        }
        if isInitiator && context.channel.isActive { perform(setup.start(), context: context) }
    }

    /// Decrypts (RC4), feeds the handshake, or passes on.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .rc4:
            var bytes = unwrapInboundIn(data)
            incoming!.apply(to: &bytes)
            context.fireChannelRead(wrapInboundOut(bytes))
        case .passthrough:
            context.fireChannelRead(data)
        case .settingUp:
            perform(setup.receive(unwrapInboundIn(data), index: index), context: context)
        case .failed:
            break
        }
    }

    /// Reports a connection closed during the handshake, then passes the event on.
    public func channelInactive(context: ChannelHandlerContext) {
        if case .settingUp = phase { perform(setup.peerClosed(), context: context) }
        context.fireChannelInactive()
    }

    /// During the handshake an I/O error (typically the reset of a peer that does not speak MSE and drops our
    /// Ya) fails it as ``MSEError/Code/closedDuringHandshake`` first, so the owner hears of the MSE failure
    /// before the wire above hears of the error and reports its own reason; then passes the error on.
    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .settingUp = phase { perform(setup.peerClosed(), context: context) }
        context.fireErrorCaught(error)
    }

    /// Encrypts (RC4), holds (during the handshake), or passes on.
    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch phase {
        case .rc4:
            var bytes = unwrapOutboundIn(data)
            outgoing!.apply(to: &bytes)
            context.write(wrapOutboundOut(bytes), promise: promise)
        case .passthrough:
            context.write(data, promise: promise)
        case .settingUp:
            if let promise { heldPromises.append(promise) }
            perform(setup.hold(unwrapOutboundIn(data)), context: context)
        case .failed(let error):
            promise?.fail(error)
        }
    }

    /// Passes on once the stream is settled; during the handshake the handler flushes what it sends itself.
    public func flush(context: ChannelHandlerContext) {
        switch phase {
        case .rc4, .passthrough: context.flush()
        case .settingUp, .failed: break
        }
    }

    // MARK: Acting on the setup machine

    private func perform(_ actions: [MSEConnectionSetup.Action], context: ChannelHandlerContext) {
        var wrote = false
        for action in actions {
            switch action {
            case .send(let bytes):
                context.write(wrapOutboundOut(bytes), promise: nil)
                wrote = true
            case .established(let stream):
                establish(stream, context: context)
                return
            case .fail(let error):
                if wrote { context.flush() }
                fail(error, context: context)
                return
            }
        }
        if wrote { context.flush() }
    }

    private func establish(_ stream: MSEEstablishedStream, context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        outgoing = stream.outgoing
        incoming = stream.incoming
        phase = stream.outcome.isEncrypted ? .rc4 : .passthrough
        let promises = heldPromises
        heldPromises = []
        if stream.pendingOutput.readableBytes > 0 {
            let written = context.eventLoop.makePromise(of: Void.self)
            for promise in promises { written.futureResult.cascade(to: promise) }
            context.write(wrapOutboundOut(stream.pendingOutput), promise: written)
        } else {
            for promise in promises { promise.succeed() }
        }
        context.flush()
        report(.success(stream.outcome))
        if stream.received.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(stream.received)) }
        if case .passthrough = phase, self.context != nil {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    private func fail(_ error: MSEError, context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        phase = .failed(error)
        let promises = heldPromises
        heldPromises = []
        for promise in promises { promise.fail(error) }
        report(.failure(error))
        context.close(promise: nil)
    }

    private func report(_ result: Result<MSEChannelOutcome, MSEError>) {
        self.result = result
        onResult?(result)
    }
}
