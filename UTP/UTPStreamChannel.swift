import Foundation
import NIOCore

/// One uTP connection as a NIO child `Channel` of the datagram channel that carries it, so that code written for
/// a TCP channel (the engine's `PeerChannelHandler`) runs over uTP unchanged.
///
/// It has its own pipeline; its `parent` is the UDP channel and its `remoteAddress` the peer's address. Writes
/// are `ByteBuffer`s: a flush hands them to the connection (``UTPSocketHandler/write(_:to:)``) and a write's
/// promise succeeds when the connection took its bytes, as a TCP write's does when the kernel took them. It is
/// writable while the connection takes bytes and its own queue stays under the write-buffer water mark; it turns
/// unwritable (`channelWritabilityChanged`) when the connection's pending bytes are at their maximum, and
/// writable again when they are sent (``UTPSocketDelegate/utpWritable(_:socket:)``). Received bytes are read as
/// `ByteBuffer`s, one per read burst of the UDP socket, honouring `ChannelOptions.autoRead` and `read()`.
///
/// `close()` ends the stream with ST_FIN after the bytes the connection took; `close(mode: .output)` half-closes
/// (ST_FIN, reading goes on); ``ResetEvent`` ends it at once with ST_RESET. `channelInactive` fires once, when the
/// channel closes or the connection ends; `closeFuture` completes when the uTP connection has ended (its FIN
/// exchange or linger time is over). The peer's FIN closes the channel, or fires `ChannelEvent.inputClosed` when
/// `ChannelOptions.allowRemoteHalfClosure` is set.
///
/// Socket options (`tcp_nodelay`, `SO_RCVLOWAT`, ...) have no meaning here: they are accepted, remembered and
/// otherwise ignored; so are `recvAllocator`, `maxMessagesPerRead` and `connectTimeout`. Made by a
/// ``UTPStreamMultiplexer``.
public final class UTPStreamChannel: Channel, ChannelCore, @unchecked Sendable {
    /// An outbound user event that resets the connection (ST_RESET) instead of closing it with a FIN:
    /// `channel.triggerUserOutboundEvent(UTPStreamChannel.ResetEvent())`.
    public struct ResetEvent: Hashable, Sendable {
        /// The event.
        public init() {}
    }

    /// The most received bytes a channel keeps while its reader does not read (auto-read off and no
    /// `read()`); beyond it the connection is reset (``UTPError/Code/unreadBytesExceeded``).
    public static let maximumUnreadBytes = 16 << 20

    private enum State {
        /// Registered; dialling, or accepted and being initialized.
        case idle
        case active
        /// Closed by this side or ended by the peer; the uTP connection is finishing.
        case closing
        case closed
    }

    /// State read from any thread (`isActive`, `isWritable`); written on the event loop only.
    private final class Flags: @unchecked Sendable {
        private let lock = NSLock()
        private var active = false
        private var writable = true

        var isActive: Bool {
            get { lock.withLock { active } }
            set { lock.withLock { active = newValue } }
        }
        var isWritable: Bool {
            get { lock.withLock { writable } }
            set { lock.withLock { writable = newValue } }
        }
    }

    public let eventLoop: any EventLoop
    /// The uTP connection this channel carries.
    public let connectionID: UTPConnectionID
    /// Whether the peer dialled this connection.
    public let isIncoming: Bool
    public let localAddress: SocketAddress?
    public var remoteAddress: SocketAddress? { connectionID.address }
    public var parent: (any Channel)? { parentChannel }
    public var allocator: ByteBufferAllocator { parentChannel.allocator }
    public var closeFuture: EventLoopFuture<Void> { closePromise.futureResult }
    public var pipeline: ChannelPipeline { _pipeline }
    public var _channelCore: any ChannelCore { self }
    public var isActive: Bool { flags.isActive }
    public var isWritable: Bool { flags.isWritable }

    private let parentChannel: any Channel
    private let multiplexer: UTPStreamMultiplexer
    private let closePromise: EventLoopPromise<Void>
    private let flags = Flags()
    private var _pipeline: ChannelPipeline!

    private var state = State.idle
    private var autoRead = true
    private var allowRemoteHalfClosure = false
    private var waterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 << 10, high: 64 << 10)
    private var receiveAllocator: any RecvByteBufferAllocator = AdaptiveRecvByteBufferAllocator()
    private var socketOptions: [(option: ChannelOptions.Types.SocketOption, value: SocketOptionValue)] = []

    /// A `read()` is waiting for bytes.
    private var unsatisfiedRead = false
    private var delivering = false
    private var unread = CircularBuffer<ByteBuffer>()
    private var unreadBytes = 0
    /// Buffers of `unread` that are still slices of a read buffer (appended since the last compaction).
    private var unreadSlices = 0
    /// How many received slices are held before they are copied into one buffer.
    private static let slicesBeforeCompaction = 64
    /// The peer's FIN arrived; reported once the bytes before it are read.
    private var inputEnded = false
    private var inputClosed = false
    /// Written, with their promises; the flushed ones are up to the mark.
    private var writes = MarkedCircularBuffer<(buffer: ByteBuffer, promise: EventLoopPromise<Void>?)>(
        initialCapacity: 8)
    private var queuedBytes = 0
    /// The connection refused a write (its pending bytes are at their maximum): wait for `utpWritable`.
    private var connectionFull = false
    private var outputClosed = false
    private var finRequested = false

    /// Whether the multiplexer holds this channel in its list of channels to deliver to at the end of a burst.
    var awaitingDelivery = false

    init(
        connectionID: UTPConnectionID, incoming: Bool, parent: any Channel, multiplexer: UTPStreamMultiplexer
    ) {
        self.connectionID = connectionID
        self.isIncoming = incoming
        self.parentChannel = parent
        self.eventLoop = parent.eventLoop
        self.localAddress = parent.localAddress
        self.multiplexer = multiplexer
        self.closePromise = parent.eventLoop.makePromise()
        self._pipeline = ChannelPipeline(channel: self)
    }

    // MARK: - Driven by the multiplexer

    func register() {
        pipeline.syncOperations.fireChannelRegistered()
    }

    /// The handshake completed (dialled) or the initializer ran (accepted).
    func becomeActive() {
        guard state == .idle else { return }
        state = .active
        flags.isActive = true
        pipeline.syncOperations.fireChannelActive()
        if autoRead, state == .active { pipeline.syncOperations.read() }
        if state == .active, writes.hasMark { drain() }
        deliverPendingReads()
    }

    /// In-order bytes of the stream, held until the read burst ends.
    func receive(_ bytes: ByteBuffer) {
        guard state == .idle || state == .active, !inputEnded else { return }
        unread.append(bytes)
        unreadBytes += bytes.readableBytes
        unreadSlices += 1
        if unreadSlices >= Self.slicesBeforeCompaction {
            // The buffers are slices of the socket's read buffers, each keeping a whole vector read alive: while
            // nobody reads, the newest slices are copied into one buffer, so that few read buffers stay pinned.
            let start = unread.index(unread.endIndex, offsetBy: -unreadSlices)
            var merged = allocator.buffer(capacity: unread[start...].reduce(0) { $0 + $1.readableBytes })
            for slice in unread[start...] { merged.writeImmutableBuffer(slice) }
            unread.removeLast(unreadSlices)
            unread.append(merged)
            unreadSlices = 0
        }
        if unreadBytes > Self.maximumUnreadBytes {
            fail(UTPError(.unreadBytesExceeded, "more than \(Self.maximumUnreadBytes) bytes received and not read"))
        }
    }

    /// The peer sent its FIN.
    func peerEnded() { inputEnded = true }

    /// Delivers what arrived in the read burst, as one buffer, if a read is waiting; then reports the peer's FIN
    /// once everything before it was read.
    func deliverPendingReads() {
        guard state == .active, !delivering else { return }
        delivering = true
        defer { delivering = false }
        while state == .active, unsatisfiedRead, !unread.isEmpty {
            unsatisfiedRead = false
            var bytes = unread.removeFirst()
            if !unread.isEmpty {
                var merged = allocator.buffer(capacity: unreadBytes)
                merged.writeBuffer(&bytes)
                while var next = unread.popFirst() { merged.writeBuffer(&next) }
                bytes = merged
            }
            unreadBytes = 0
            unreadSlices = 0
            pipeline.syncOperations.fireChannelRead(NIOAny(bytes))
            pipeline.syncOperations.fireChannelReadComplete()
            if autoRead, state == .active { pipeline.syncOperations.read() }
        }
        guard state == .active, inputEnded, !inputClosed, unread.isEmpty else { return }
        inputClosed = true
        if allowRemoteHalfClosure {
            pipeline.syncOperations.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        } else {
            close0(error: ChannelError.eof, mode: .all, promise: nil)
        }
    }

    /// The connection sent what was pending: hand it more.
    func connectionWritable() {
        connectionFull = false
        drain()
    }

    /// The uTP connection ended (or never completed its handshake).
    func connectionEnded(_ reason: UTPCloseReason) {
        switch state {
        case .closed:
            return
        case .idle:
            state = .closing
            failWrites(ChannelError.ioOnClosedChannel)
        case .active:
            deliverPendingReads()
            guard state == .active else { break }  // the FIN closed it meanwhile
            if reason != .finished {
                pipeline.syncOperations.fireErrorCaught(
                    UTPError(.connectionFailed, "the uTP connection ended: \(reason)"))
            }
            guard state == .active else { break }
            startClosing()
        case .closing:
            break
        }
        guard state == .closing else { return }
        state = .closed
        pipeline.syncOperations.fireChannelUnregistered()
        closePromise.succeed()
        removeHandlers(pipeline: pipeline)
    }

    // MARK: - ChannelCore

    public func localAddress0() throws -> SocketAddress {
        guard let localAddress else { throw ChannelError.unknownLocalAddress }
        return localAddress
    }

    public func remoteAddress0() throws -> SocketAddress { connectionID.address }

    public func register0(promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    public func registerAlreadyConfigured0(promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    public func bind0(to: SocketAddress, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    public func connect0(to: SocketAddress, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    public func write0(_ data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state == .idle || state == .active else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        guard !outputClosed else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        guard let buffer = tryUnwrapData(data, as: ByteBuffer.self) else {
            promise?.fail(UTPError(.unsupportedWrite, "a uTP stream channel writes ByteBuffers only"))
            return
        }
        queuedBytes += buffer.readableBytes
        // The connection never takes more than its maximum of pending bytes at once: larger buffers go in slices
        // (the promise goes with the last one).
        var rest = buffer
        let most = max(1, multiplexer.socket.maximumPendingBytes)
        while rest.readableBytes > most {
            writes.append((rest.readSlice(length: most)!, nil))
        }
        writes.append((rest, promise))
        updateWritability()
    }

    public func flush0() {
        writes.mark()
        if state == .active { drain() }
    }

    public func read0() {
        guard state == .idle || state == .active else { return }
        unsatisfiedRead = true
        if state == .active, !unread.isEmpty { deliverPendingReads() }
    }

    public func close0(error: any Error, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .input:
            promise?.fail(ChannelError.operationUnsupported)
        case .output:
            guard state == .active, !outputClosed else {
                promise?.fail(state == .active ? ChannelError.outputClosed : ChannelError.ioOnClosedChannel)
                return
            }
            outputClosed = true
            writes.mark()
            drain()
            promise?.succeed()
            pipeline.syncOperations.fireUserInboundEventTriggered(ChannelEvent.outputClosed)
        case .all:
            switch state {
            case .closed:
                promise?.fail(ChannelError.alreadyClosed)
            case .closing:
                closePromise.futureResult.cascade(to: promise)
            case .idle, .active:
                closePromise.futureResult.cascade(to: promise)
                let reset = error is UTPError
                startClosing()
                if reset {
                    multiplexer.socket.abort(connectionID)
                } else {
                    multiplexer.socket.close(connectionID)
                }
            }
        }
    }

    public func triggerUserOutboundEvent0(_ event: Any, promise: EventLoopPromise<Void>?) {
        guard event is ResetEvent else {
            promise?.fail(ChannelError.operationUnsupported)
            return
        }
        close0(error: UTPError(.connectionFailed, "reset by this side"), mode: .all, promise: promise)
    }

    public func channelRead0(_ data: NIOAny) {
        // Reached the end of the pipeline unhandled: dropped, as NIO's own channels do.
    }

    public func errorCaught0(error: any Error) {}

    // MARK: - Options

    public func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> EventLoopFuture<Void> {
        if eventLoop.inEventLoop {
            return eventLoop.makeCompletedFuture { try setOption0(option, value: value) }
        }
        return eventLoop.submit { try self.setOption0(option, value: value) }
    }

    public func getOption<Option: ChannelOption>(_ option: Option) -> EventLoopFuture<Option.Value> {
        if eventLoop.inEventLoop {
            return eventLoop.makeCompletedFuture { try getOption0(option) }
        }
        return eventLoop.submit { try self.getOption0(option) }
    }

    public var syncOptions: (any NIOSynchronousChannelOptions)? { SynchronousOptions(channel: self) }

    private struct SynchronousOptions: NIOSynchronousChannelOptions {
        let channel: UTPStreamChannel

        func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
            try channel.setOption0(option, value: value)
        }

        func getOption<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
            try channel.getOption0(option)
        }
    }

    private func setOption0<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
        eventLoop.preconditionInEventLoop()
        switch option {
        case let option as ChannelOptions.Types.SocketOption:
            let value = value as! SocketOptionValue
            socketOptions.removeAll { $0.option == option }
            socketOptions.append((option, value))
        case is ChannelOptions.Types.AutoReadOption:
            autoRead = value as! Bool
            if autoRead, state == .active { pipeline.syncOperations.read() }
        case is ChannelOptions.Types.WriteBufferWaterMarkOption:
            waterMark = value as! ChannelOptions.Types.WriteBufferWaterMark
            updateWritability()
        case is ChannelOptions.Types.RecvAllocatorOption:
            receiveAllocator = value as! any RecvByteBufferAllocator
        case is ChannelOptions.Types.AllowRemoteHalfClosureOption:
            allowRemoteHalfClosure = value as! Bool
        case is ChannelOptions.Types.MaxMessagesPerReadOption, is ChannelOptions.Types.ConnectTimeoutOption:
            break
        default:
            throw ChannelError.operationUnsupported
        }
    }

    private func getOption0<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
        eventLoop.preconditionInEventLoop()
        switch option {
        case let option as ChannelOptions.Types.SocketOption:
            return (socketOptions.first { $0.option == option }?.value ?? 0) as! Option.Value
        case is ChannelOptions.Types.AutoReadOption:
            return autoRead as! Option.Value
        case is ChannelOptions.Types.WriteBufferWaterMarkOption:
            return waterMark as! Option.Value
        case is ChannelOptions.Types.RecvAllocatorOption:
            return receiveAllocator as! Option.Value
        case is ChannelOptions.Types.AllowRemoteHalfClosureOption:
            return allowRemoteHalfClosure as! Option.Value
        default:
            throw ChannelError.operationUnsupported
        }
    }

    // MARK: - Internals

    /// Hands flushed writes to the connection until it refuses one; their promises succeed afterwards (a promise's
    /// callback may write again).
    private func drain() {
        var taken: [EventLoopPromise<Void>?] = []
        multiplexer.socket.batchingFlushes {
            while !connectionFull, writes.hasMark, let first = writes.first {
                guard multiplexer.socket.write(first.buffer, to: connectionID) else {
                    // Refused: the connection's pending bytes are at their maximum, `utpWritable` follows.
                    connectionFull = multiplexer.socket.pendingBytes(of: connectionID) > 0
                    if !connectionFull {
                        // The connection is gone or closing: nothing will take these bytes.
                        failWrites(ChannelError.ioOnClosedChannel)
                    }
                    break
                }
                queuedBytes -= first.buffer.readableBytes
                taken.append(writes.removeFirst().promise)
            }
            if outputClosed, !finRequested, writes.isEmpty, state == .active {
                finRequested = true
                multiplexer.socket.close(connectionID)
            }
        }
        updateWritability()
        for promise in taken { promise?.succeed() }
    }

    private func updateWritability() {
        let writable = flags.isWritable
        if writable, connectionFull || queuedBytes > waterMark.high {
            flags.isWritable = false
            pipeline.syncOperations.fireChannelWritabilityChanged()
        } else if !writable, !connectionFull, queuedBytes <= waterMark.low {
            flags.isWritable = true
            pipeline.syncOperations.fireChannelWritabilityChanged()
        }
    }

    /// Marks the channel closed for this side's use and fires `channelInactive` (once).
    private func startClosing() {
        let wasActive = state == .active
        state = .closing
        flags.isActive = false
        failWrites(ChannelError.ioOnClosedChannel)
        unread.removeAll()
        unreadBytes = 0
        unreadSlices = 0
        if wasActive { pipeline.syncOperations.fireChannelInactive() }
    }

    private func failWrites(_ error: any Error) {
        queuedBytes = 0
        while let write = writes.popFirst() { write.promise?.fail(error) }
    }

    /// Resets the connection because of `error`, after telling the pipeline.
    private func fail(_ error: UTPError) {
        pipeline.syncOperations.fireErrorCaught(error)
        close0(error: error, mode: .all, promise: nil)
    }
}
