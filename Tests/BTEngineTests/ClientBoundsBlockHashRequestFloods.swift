import BTMetainfo
import BTWire
import Foundation
import NIOCore
import Testing

@testable import BTEngine

/// A BEP 52 block-layer `hash request` (base layer 0) is the most expensive question a peer can ask a seed:
/// each one is answered by reading a whole piece from disk and hashing its blocks. A flood of them from a
/// v2 peer is held to ``PieceLayerServing/maxBlockRequestsPerSecond`` answers a second, one read at a time,
/// the rest answered with `hash reject`; past the hash-message budget (``PeerInputLimits/maximumHashMessages``
/// in its window) the peer is disconnected. An honest leecher beside the flood still downloads.
@Suite(.serialized) struct ClientBoundsBlockHashRequestFloods {
    /// A v2 torrent of four 64 KiB-piece files and a seed of it on 127.0.0.1 that reports disconnect reasons.
    static func seed(in folder: String) async throws -> (Torrent, Client, TorrentHandle, Recorder<String>) {
        let payload = (folder as NSString).appendingPathComponent("payload")
        try ClientFixtures.writePayload(ClientFixtures.files, in: payload, seed: 7)
        var creator = TorrentCreator(path: payload)
        creator.version = .v2
        creator.pieceLength = 64 * 1024
        creator.creationDate = nil
        let torrent = try creator.create()
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        configuration.encryption = .none
        configuration.reportsPacketEvents = false
        let seed = try await Client(configuration: configuration)
        let reasons = Recorder<String>()
        seed.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(_, let reason) = event { reasons.append(reason.name) }
        }
        let handle = try await seed.addTorrent(torrent, downloadDirectory: folder)
        return (torrent, seed, handle, reasons)
    }

    /// `count` block-layer requests (with proofs up to each file's root) for the torrent's pieces in turn, as
    /// wire bytes.
    static func blockRequests(_ count: Int, torrent: Torrent) throws -> [UInt8] {
        let requests = try (0..<torrent.layout.pieceCount).map {
            try #require(BlockHashBlame<Int>.blockRequest(forPiece: $0, layout: torrent.layout)).0
        }
        var buffer = ByteBuffer()
        for index in 0..<count { PeerMessage.hashRequest(requests[index % requests.count]).encode(into: &buffer) }
        return Array(buffer.readableBytesView)
    }

    @Test func aFloodUnderTheMessageBudgetGetsAtMostFourPieceReadsASecondAndAnHonestLeecherFinishes() async throws {
        let folder = try ClientFixtures.temporaryFolder("blockflood-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("blockflood-leech")
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let (torrent, seed, handle, reasons) = try await Self.seed(in: folder)
        let flooder = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false, fast: true, v2: true)
        try await flooder.connect(port: seed.port)
        #expect(await ClientFixtures.eventually { flooder.sentRequests }, "the seed unchokes the interested peer")

        var configuration = ClientConfiguration(host: "127.0.0.2", ports: [0])
        configuration.usesTrackers = false
        configuration.encryption = .none
        configuration.downloadLimit = .bytesPerSecond(512 * 1024, burst: 64 * 1024)  // still going during the flood
        let leecher = try await Client(configuration: configuration)
        let leech = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        try await leecher.connect(host: "127.0.0.1", port: seed.port, for: leech)

        // One request every 20 ms for 3 s (50 a second, the most requests a peer may make): 150, below the
        // 1,000 hash messages the budget allows in 10 s. Each arrives alone, so none waits for another's read:
        // without the per-second limit nearly all would be served.
        let sent = 150
        let start = ContinuousClock.now
        for _ in 0..<sent {
            try await flooder.send(try Self.blockRequests(1, torrent: torrent))
            try await Task.sleep(for: .milliseconds(20))
        }
        let flood = ContinuousClock.now - start
        // Every request is answered, most of them with `hash reject`.
        #expect(
            await ClientFixtures.eventually(limit: .seconds(20)) {
                flooder.receivedIDs.filter { $0 == 22 || $0 == 23 }.count == sent
            }, "answers: \(flooder.receivedIDs.filter { $0 == 22 || $0 == 23 }.count) of \(sent)")
        let served = flooder.receivedIDs.filter { $0 == 22 }.count
        let windows = Int(flood.components.seconds) + 2  // one-second windows the flood touched, and the reads' tail
        #expect(served >= 3, "some block hashes are served: \(served)")
        #expect(
            served <= PieceLayerServing.maxBlockRequestsPerSecond * windows,
            "\(served) pieces read for the flooder in \(flood)")
        #expect(!flooder.isClosed, "a flood under the budget is rate-limited, not disconnected: \(reasons.values)")
        #expect(
            await ClientFixtures.eventually { await leecher.status(of: leech)?.isComplete == true },
            "the honest leecher finishes beside the flood")
        await flooder.close()
        await leecher.shutdown()
        await seed.shutdown()
    }

    @Test func aBurstPastTheHashMessageBudgetIsDisconnected() async throws {
        let folder = try ClientFixtures.temporaryFolder("blockburst-seed")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (torrent, seed, handle, reasons) = try await Self.seed(in: folder)
        let flooder = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false, fast: true, v2: true)
        try await flooder.connect(port: seed.port)
        #expect(await ClientFixtures.eventually { flooder.sentRequests })
        let limit = PeerInputLimits().maximumHashMessages
        try? await flooder.send(try Self.blockRequests(limit + 500, torrent: torrent))
        #expect(await ClientFixtures.eventually { flooder.isClosed }, "the seed closes the flooding connection")
        #expect(await ClientFixtures.eventually { reasons.values.contains("protocolViolation") }, "\(reasons.values)")
        // Reads go one at a time and at most four a second: few `hashes` came back before the close.
        #expect(flooder.receivedIDs.filter { $0 == 22 }.count <= PieceLayerServing.maxBlockRequestsPerSecond)
        #expect(await ClientFixtures.eventually { await seed.peers(of: handle).isEmpty })
        await flooder.close()
        await seed.shutdown()
    }
}
