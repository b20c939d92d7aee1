import BTMetainfo
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

/// A lying tracker (issue 12, attack 7) answers every announce with 12,000 junk compact peers in
/// 127.15.0.0/16 on port 1 (nothing listens there: each refuses at once) and the honest seed once, first,
/// in the middle or last. Before the fix the parser kept the first 10,000 peers, the candidate list the first
/// 3,000 and the engine dialled 50 a second, so an honest seed listed last was never tried. Now the download
/// completes wherever the seed is listed. (12,000 keeps a debug build's test short; the attack benchmark runs
/// 40,000 against the release build.)
@Suite(.serialized) struct ClientFindsTheHonestPeerInALyingTrackersAnswer {
    static let junk = 12_000

    @Test(arguments: [0, junk / 2, junk])
    func theDownloadCompletesWhereverTheSeedIsListed(position: Int) async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("lying-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("lying-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        var seedConfiguration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        seedConfiguration.usesTrackers = false
        let seeder = try await Client(configuration: seedConfiguration)
        var peers: [UInt8] = []
        for index in 0..<Self.junk {
            if index == position { peers += [127, 0, 0, 1, UInt8(seeder.port >> 8), UInt8(seeder.port & 255)] }
            peers += [127, 15, UInt8(index >> 8), UInt8(index & 255), 0, 1]
        }
        if position >= Self.junk { peers += [127, 0, 0, 1, UInt8(seeder.port >> 8), UInt8(seeder.port & 255)] }
        let body = Array("d8:intervali1800e5:peers\(peers.count):".utf8) + peers + Array("e".utf8)
        let tracker = try await LyingTracker.start(body: body)

        let payload = (seedFolder as NSString).appendingPathComponent("payload")
        try ClientFixtures.writePayload(ClientFixtures.files, in: payload, seed: 12)
        var creator = TorrentCreator(path: payload)
        creator.version = .v1
        creator.pieceLength = 64 * 1024
        creator.creationDate = nil
        creator.trackers = [["http://127.0.0.1:\(tracker.port)/announce"]]
        let torrent = try creator.create()
        _ = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)

        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.trackerAddressPolicy = .allowAll
        let leecher = try await Client(configuration: configuration)
        let start = ContinuousClock.now
        let handle = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        let done = await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(120))
        let elapsed = ContinuousClock.now - start
        print(
            "lying tracker, seed at \(position) of \(Self.junk + 1): complete \(done?.isComplete == true) in \(elapsed)"
        )
        #expect(done?.isComplete == true)
        #expect(tracker.answered >= 1)
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        await leecher.shutdown()
        await seeder.shutdown()
        try await tracker.channel.close()
    }
}

/// An HTTP tracker on 127.0.0.1 that answers every request with the same body, then closes.
final class LyingTracker: @unchecked Sendable {
    let body: [UInt8]
    let channel: any Channel
    private let lock = NSLock()
    private var count = 0

    /// Requests answered so far.
    var answered: Int { lock.withLock { count } }

    /// The port it listens on.
    var port: Int { channel.localAddress?.port ?? 0 }

    private init(body: [UInt8], channel: any Channel) {
        self.body = body
        self.channel = channel
    }

    static func start(body: [UInt8]) async throws -> LyingTracker {
        let holder = Holder(body: body)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(holder.handler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let tracker = LyingTracker(body: body, channel: channel)
        holder.tracker = tracker
        return tracker
    }

    /// Hands each accepted channel a handler once the server is up.
    private final class Holder: @unchecked Sendable {
        let body: [UInt8]
        var tracker: LyingTracker?
        init(body: [UInt8]) { self.body = body }
        func handler() -> Reply { Reply(owner: self) }
    }

    /// One connection: reads the request head, writes the answer, closes.
    private final class Reply: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let owner: Holder
        var head: [UInt8] = []
        var replied = false
        init(owner: Holder) { self.owner = owner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            guard !replied else { return }
            head += buffer.readBytes(length: buffer.readableBytes) ?? []
            guard head.count < 65_536 else { return context.close(promise: nil) }
            guard String(decoding: head, as: UTF8.self).contains("\r\n\r\n") else { return }
            replied = true
            let body = owner.body
            var out = context.channel.allocator.buffer(capacity: body.count + 128)
            out.writeString(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            )
            out.writeBytes(body)
            owner.tracker?.lock.withLock { owner.tracker?.count += 1 }
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in context.close(promise: nil) }
        }
    }
}
