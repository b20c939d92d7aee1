import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// libtorrent's smart ban for v1 torrents: a liar (one of ours whose files were flipped on disk after its
/// check, one byte in every piece) and an honest seed serve the leecher at once. A failed piece's block hashes
/// are kept; once the piece verifies, the sender of the block that differed is proven a liar and blacklisted
/// outright (its score falls far below the threshold, not by -20 a piece), while the honest seed, which shared
/// the blame of mixed pieces, is not blacklisted. The download completes byte for byte.
@Suite(.serialized) struct ClientProvesWhichPeerSentABadV1Block {
    @Test func theSenderOfTheBadBlockIsBlacklistedOnceThePieceVerifies() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("smartban-honest")
        let liarFolder = try ClientFixtures.temporaryFolder("smartban-liar")
        let leechFolder = try ClientFixtures.temporaryFolder("smartban-leech")
        defer {
            for folder in [seedFolder, liarFolder, leechFolder] { try? FileManager.default.removeItem(atPath: folder) }
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        _ = try ClientFixtures.makeTorrent(in: liarFolder)
        let honest = try await Client(configuration: ClientConfiguration(host: "127.0.0.24", ports: [0]))
        let liar = try await Client(configuration: ClientConfiguration(host: "127.0.0.25", ports: [0]))
        let leecher = try await Client(configuration: ClientConfiguration(host: "127.0.0.26", ports: [0]))
        try await honest.addTorrent(torrent, downloadDirectory: seedFolder)
        try await liar.addTorrent(torrent, downloadDirectory: liarFolder)
        // Flip one byte in every piece of the liar's data, after its hash check passed.
        try ClientFixtures.flipFirstByteOfEveryPiece(of: torrent, in: liarFolder)
        let failures = Recorder<Int>()
        leecher.events.on(.pieceHashFail) { event in
            if case .pieceHashFail(_, let index) = event { failures.append(index) }
        }
        let handle = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        try await leecher.connect(host: "127.0.0.25", port: liar.port, for: handle)
        try await leecher.connect(host: "127.0.0.24", port: honest.port, for: handle)
        let status = await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(90))
        let liarScore = await leecher.reputation(of: IPAddress("127.0.0.25")!)
        let blacklist = await leecher.blacklist
        await leecher.shutdown()
        await liar.shutdown()
        await honest.shutdown()
        #expect(status?.isComplete == true)
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        #expect(!failures.values.isEmpty, "the liar sent no piece")
        // Proven, not worn down: a few failures at -20 each would leave it above -100.
        #expect(liarScore < -500, "liar's score \(liarScore) after \(failures.values.count) failed pieces")
        #expect(blacklist == [IPAddress("127.0.0.25")!], "\(blacklist)")
    }
}
