import NIOCore
import NIOPosix
import Synchronization

@testable import BTMSE

/// What one end of a test connection saw, filled on its event loop and read from the test.
final class ChannelRecord: Sendable {
    struct Facts: Sendable {
        /// Raw bytes at the socket, each way.
        var rawIn: [UInt8] = []
        var rawOut: [UInt8] = []
        /// Bytes the wire above the MSE handler received.
        var app: [UInt8] = []
        var result: Result<MSEChannelOutcome, MSEError>?
        var results = 0
        var closed = false
        /// Whether an `MSEChannelHandler` was in the pipeline when the wire last read.
        var handlerInPipelineAtLastRead: Bool?
    }

    let facts = Mutex(Facts())

    var snapshot: Facts { facts.withLock { $0 } }

    func report(_ result: Result<MSEChannelOutcome, MSEError>) {
        facts.withLock {
            $0.result = result
            $0.results += 1
        }
    }
}

/// At the socket end of the pipeline: records raw bytes both ways.
final class RawTap: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let record: ChannelRecord
    init(_ record: ChannelRecord) { self.record = record }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        record.facts.withLock { $0.rawIn += bytes.readableBytesView }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        record.facts.withLock { $0.rawOut += bytes.readableBytesView }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        record.facts.withLock { $0.closed = true }
        context.fireChannelInactive()
    }
}

/// Cuts every read into chunks of 1...`maxChunk` bytes (1: one byte per read), so the handler above sees
/// the worst fragmentation a socket can produce.
final class ReadSplitter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let maxChunk: Int
    var rng: MSETestSupport.SeededGenerator
    init(maxChunk: Int, seed: UInt64) {
        self.maxChunk = maxChunk
        rng = MSETestSupport.SeededGenerator(seed: seed)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        while bytes.readableBytes > 0 {
            let n = min(bytes.readableBytes, Int.random(in: 1...maxChunk, using: &rng))
            context.fireChannelRead(wrapInboundOut(bytes.readSlice(length: n)!))
        }
    }
}

/// A plaintext stand-in for the BitTorrent wire above the MSE handler: writes `onActive` when the channel
/// is up, records what it reads, calls `onRead` with everything read so far until it returns an answer to
/// write (once), and completes
/// `done` once `expected` bytes arrived.
final class TestWire: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let record: ChannelRecord
    let onActive: [[UInt8]]
    let expected: Int
    let onRead: ([UInt8]) -> [UInt8]?
    var received: [UInt8] = []
    var done: EventLoopPromise<Void>?
    var answered = false

    init(
        record: ChannelRecord, onActive: [[UInt8]] = [], expected: Int,
        onRead: @escaping ([UInt8]) -> [UInt8]? = { _ in nil }
    ) {
        self.record = record
        self.onActive = onActive
        self.expected = expected
        self.onRead = onRead
    }

    func handlerAdded(context: ChannelHandlerContext) {
        done = context.eventLoop.makePromise()
    }

    func channelActive(context: ChannelHandlerContext) {
        // Several writes, one flush, as a wire batches them.
        for bytes in onActive { context.write(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil) }
        if !onActive.isEmpty { context.flush() }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let present = (try? context.pipeline.syncOperations.handler(type: MSEChannelHandler.self)) != nil
        record.facts.withLock { $0.handlerInPipelineAtLastRead = present }
        let bytes = unwrapInboundIn(data)
        received += bytes.readableBytesView
        record.facts.withLock { $0.app += bytes.readableBytesView }
        if !answered, let answer = onRead(received) {
            answered = true
            // Answer in uneven writes, to check the order of what the handler encrypts.
            var rest = answer[...]
            var size = 1
            while !rest.isEmpty {
                let piece = rest.prefix(size)
                rest = rest.dropFirst(piece.count)
                context.write(wrapOutboundOut(ByteBuffer(bytes: piece)), promise: nil)
                size = size * 3 + 1
            }
            context.flush()
        }
        if received.count >= expected { done?.succeed() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        done?.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}

/// A loopback TCP server and client on one event loop thread, torn down by ``shutdown()``.
struct LoopbackPair {
    let group: MultiThreadedEventLoopGroup
    let server: any Channel
    let port: Int

    /// A server on 127.0.0.1 whose accepted channels get `initializer`'s handlers.
    static func start(
        group: MultiThreadedEventLoopGroup, initializer: @escaping @Sendable (any Channel) -> [any ChannelHandler]
    ) async throws -> LoopbackPair {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(initializer(channel))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return LoopbackPair(group: group, server: server, port: server.localAddress!.port!)
    }

    /// A client connected to the server, its pipeline made by `handlers` before it is active.
    func connect(_ handlers: @escaping @Sendable () -> [any ChannelHandler]) async throws -> any Channel {
        try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandlers(handlers()) }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    func shutdown() async throws {
        try await server.close()
    }
}

/// Waits for `future` at most `seconds`.
func awaitWithin<T: Sendable>(_ seconds: Int64, _ future: EventLoopFuture<T>, on loop: any EventLoop) async throws -> T
{
    let promise = loop.makePromise(of: T.self)
    future.cascade(to: promise)
    let timer = loop.scheduleTask(in: .seconds(seconds)) {
        promise.fail(ChannelError.connectTimeout(.seconds(seconds)))
    }
    defer { timer.cancel() }
    return try await promise.futureResult.get()
}

/// Polls `condition` every 10 ms for at most `seconds`.
func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Whether `bytes` contain a plaintext BitTorrent handshake marker anywhere.
func containsPlaintextMarker(_ bytes: [UInt8]) -> Bool {
    let marker = MSEConnectionSetup.plaintextMarker
    guard bytes.count >= marker.count else { return false }
    return (0...(bytes.count - marker.count)).contains { bytes[$0..<($0 + marker.count)].elementsEqual(marker) }
}
