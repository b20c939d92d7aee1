import BTMetainfo
import BTStorage
import Foundation
import Testing

@testable import BTEngine

/// Finished is not complete: a torrent whose wanted pieces are all verified while a skipped file's are not
/// is finished (``TorrentStatus/isFinished``, `torrent_finished`, seeding what it has, requesting nothing)
/// but not complete (``TorrentStatus/isComplete``), and, as libtorrent does, tells the tracker `completed`
/// only once every piece is verified.
@Suite(.serialized) struct ClientFinishesBeforeItCompletes {
    @Test func aTorrentWithASkippedFileFinishesButAnnouncesCompletedOnlyWhenComplete() async throws {
        let tracker = try InteropProcess(["/usr/bin/python3", ClientReportsEveryTrackerEvent.script], seconds: 120)
        defer { tracker.stop() }
        let port = try #require(await tracker.firstJSON()?.ints["port"])
        let seedFolder = try ClientFixtures.temporaryFolder("finish-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("finish-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        try ClientFixtures.writePayload(
            [("set/a.bin", 65_536), ("set/b.bin", 65_536), ("set/c.bin", 65_536)], in: seedFolder, seed: 5)
        var creator = TorrentCreator(path: "\(seedFolder)/set")
        creator.version = .v1
        creator.pieceLength = 16 * 1024
        creator.creationDate = nil
        creator.trackers = [["http://127.0.0.1:\(port)/announce"]]
        let torrent = try creator.create()
        #expect(torrent.layout.files.map { $0.path.last ?? "" } == ["a.bin", "b.bin", "c.bin"])

        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.trackerAddressPolicy = .allowAll
        let seeder = try await Client(configuration: configuration)
        let leecher = try await Client(configuration: configuration)
        let announced = Recorder<ClientEvent.AnnounceKind>()
        let finished = Recorder<String>()
        leecher.events.on(.trackerConnect) { event in
            if case .trackerConnect(_, let kind?) = event { announced.append(kind) }
        }
        leecher.events.on(.torrentFinished) { _ in finished.append("finished") }
        _ = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let handle = try await leecher.addTorrent(
            torrent, downloadDirectory: leechFolder, filePriorities: [.normal, .skip, .normal])
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: handle)
        #expect(await ClientFixtures.eventually { await leecher.status(of: handle)?.state == .seeding })
        let partial = try #require(await leecher.status(of: handle))
        #expect(partial.isFinished && !partial.isComplete && partial.eta == nil)
        #expect(partial.verifiedPieces == 8 && partial.verifiedWantedBytes == partial.wantedBytes)
        #expect(await leecher.peers(of: handle).allSatisfy { !$0.amInterested }, "nothing wanted is left")
        #expect(finished.values.count == 1)
        try await Task.sleep(for: .milliseconds(500))  // a `completed` announce would have gone out by now
        #expect(announced.values.contains(.started))
        #expect(!announced.values.contains(.completed), "finished with a skipped file is not complete")

        try await leecher.setFilePriorities(handle, [.normal, .normal, .normal])
        let after = try #require(await leecher.status(of: handle))
        #expect(after.state == .downloading && !after.isFinished)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: handle)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, handle))
        #expect(done.isComplete && done.isFinished && done.state == .seeding)
        #expect(await ClientFixtures.eventually { announced.values.contains(.completed) })
        #expect(announced.values.filter { $0 == .completed }.count == 1)
        #expect(finished.values.count == 2)
        await leecher.shutdown()
        await seeder.shutdown()
    }
}
