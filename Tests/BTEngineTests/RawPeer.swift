import BTMetainfo
import Foundation
import NIOCore
import NIOPosix

@testable import BTEngine

/// A bare-bones BitTorrent peer for tests, written against NIO directly (not the engine): it connects,
/// handshakes without any extension bits (or with only the fast extension's and BEP 52's v2 bit), says `interested`, and once
/// unchoked sends a list of `request`s (then `cancel`s for some of them, when given) and then, when told
/// to, stops reading (its small receive buffer then fills and the sender must hold back). It records the
/// id of every message it receives.
final class RawPeer: @unchecked Sendable {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let handler: Handler
    private var channel: (any Channel)?

    /// A peer for `infoHash` that sends `requests` (piece, offset, length) once unchoked and stops reading
    /// then when `stopsReading`.
    /// `cancels` follow the requests in the same write; `fast` sets the BEP 6 bit in the handshake, `v2` the
    /// BEP 52 bit.
    init(
        infoHash: [UInt8], requests: [(Int, Int, Int)], stopsReading: Bool, cancels: [(Int, Int, Int)] = [],
        fast: Bool = false, v2: Bool = false
    ) {
        handler = Handler(
            infoHash: infoHash, requests: requests, stopsReading: stopsReading, cancels: cancels, fast: fast, v2: v2)
    }

    /// Connects to `port` on `host` from `source` (nil: the system's default source address, 127.0.0.1 on
    /// loopback) with a 4 KiB receive buffer.
    func connect(host: String = "127.0.0.1", port: Int, from source: String? = nil) async throws {
        let handler = self.handler
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        channel = try await bootstrap.connect(host: host, port: port).get()
    }

    /// Whether the peer was unchoked and sent its requests.
    var sentRequests: Bool { handler.state.withLock { $0.sentRequests } }
    /// Whether the connection closed.
    var isClosed: Bool { handler.state.withLock { $0.closed } }
    /// The id of every message received after the handshake, in order (keep-alives left out).
    var receivedIDs: [UInt8] { handler.state.withLock { $0.received } }

    /// Sends `bytes` (wire messages, length prefixes included) after the handshake and `interested`.
    func send(_ bytes: [UInt8]) async throws {
        guard let channel else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await channel.writeAndFlush(buffer).get()
    }

    /// Closes the connection and stops the event loop.
    func close() async {
        try? await channel?.close().get()
        try? await group.shutdownGracefully()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer

        struct State {
            var sentRequests = false
            var closed = false
            var received: [UInt8] = []
        }

        let state = Locked(State())
        private let infoHash: [UInt8]
        private let requests: [(Int, Int, Int)]
        private let stopsReading: Bool
        private let cancels: [(Int, Int, Int)]
        private let fast: Bool
        private let v2: Bool
        private var buffer = ByteBuffer()
        private var handshakeSeen = false

        init(
            infoHash: [UInt8], requests: [(Int, Int, Int)], stopsReading: Bool, cancels: [(Int, Int, Int)], fast: Bool,
            v2: Bool
        ) {
            self.infoHash = infoHash
            self.requests = requests
            self.stopsReading = stopsReading
            self.cancels = cancels
            self.fast = fast
            self.v2 = v2
        }

        func channelActive(context: ChannelHandlerContext) {
            var out = context.channel.allocator.buffer(capacity: 73)
            out.writeInteger(UInt8(19))
            out.writeString("BitTorrent protocol")
            out.writeBytes([0, 0, 0, 0, 0, 0, 0, (fast ? 0x04 : 0) | (v2 ? 0x10 : 0)])
            out.writeBytes(infoHash)
            out.writeBytes(Array("-RAW001-".utf8) + (0..<12).map { _ in UInt8.random(in: 48...57) })
            out.writeInteger(UInt32(1))
            out.writeInteger(UInt8(2))  // interested
            context.writeAndFlush(NIOAny(out), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            buffer.writeBuffer(&bytes)
            if !handshakeSeen {
                guard buffer.readableBytes >= 68 else { return }
                buffer.moveReaderIndex(forwardBy: 68)
                handshakeSeen = true
            }
            while let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
                buffer.readableBytes >= 4 + Int(length)
            {
                buffer.moveReaderIndex(forwardBy: 4)
                let id = length > 0 ? buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) : nil
                if let id { state.withLock { $0.received.append(id) } }
                buffer.moveReaderIndex(forwardBy: Int(length))
                if id == 1 && !state.withLock({ $0.sentRequests }) { unchoked(context: context) }
            }
            buffer.discardReadBytes()
        }

        private func unchoked(context: ChannelHandlerContext) {
            var out = context.channel.allocator.buffer(capacity: (requests.count + cancels.count) * 17)
            for (id, list) in [(UInt8(6), requests), (UInt8(8), cancels)] {
                for (piece, offset, length) in list {
                    out.writeInteger(UInt32(13))
                    out.writeInteger(id)
                    out.writeInteger(UInt32(piece))
                    out.writeInteger(UInt32(offset))
                    out.writeInteger(UInt32(length))
                }
            }
            context.writeAndFlush(NIOAny(out), promise: nil)
            state.withLock { $0.sentRequests = true }
            if stopsReading { context.channel.setOption(.autoRead, value: false).whenComplete { _ in } }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLock { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

extension ClientFixtures {
    /// Writes one file of `length` pseudo-random bytes at `folder/name` and returns its v1 torrent.
    static func makeSingleFileTorrent(in folder: String, name: String, length: Int, pieceLength: Int) throws
        -> Torrent
    {
        var generator = SeededGenerator(seed: UInt64(length))
        var bytes = [UInt8](repeating: 0, count: length)
        bytes.withUnsafeMutableBytes { raw in
            var index = 0
            while index < length {
                var word = generator.next()
                let count = min(8, length - index)
                withUnsafeBytes(of: &word) {
                    raw.baseAddress!.advanced(by: index).copyMemory(from: $0.baseAddress!, byteCount: count)
                }
                index += count
            }
        }
        let path = (folder as NSString).appendingPathComponent(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var creator = TorrentCreator(path: path)
        creator.version = .v1
        creator.pieceLength = pieceLength
        creator.creationDate = nil
        return try creator.create()
    }

    /// Polls `condition` every 20 ms until it holds or `limit` passes (a safety bound, not a timing
    /// assertion); returns whether it held.
    static func eventually(limit: Duration = .seconds(60), _ condition: () async -> Bool) async -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }
}

/// A value behind a lock, for test handlers that run on event loops.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}
