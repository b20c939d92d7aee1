import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Force recheck (the seed's `hashcheck`) and the checking state of a torrent being added.
@Suite(.serialized) struct ClientRechecksTorrentData {
    @Test func addingExistingDataShowsCheckingWithProgressThenSeeding() async throws {
        let folder = try ClientFixtures.temporaryFolder("addcheck")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "data.bin", length: 32 * 1024 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let client = try await Client(configuration: configuration)
        let adding = Task { try await client.addTorrent(torrent, downloadDirectory: folder) }
        var seen: TorrentStatus?
        let deadline = ContinuousClock.now + .seconds(60)  // a safety bound, not a timing assertion
        while seen == nil && ContinuousClock.now < deadline {
            let status = await client.statuses().first
            if status?.state == .checking { seen = status }
            if status?.state == .seeding || status?.state == .failed { break }
            await Task.yield()
        }
        let handle = try await adding.value
        let checking = try #require(seen, "the torrent should be visible as checking while it is checked")
        #expect(checking.handle == handle)
        let fraction = try #require(checking.checkProgress)
        #expect(fraction >= 0 && fraction <= 1)
        let done = try #require(await client.status(of: handle))
        #expect(done.state == .seeding && done.isComplete && done.checkProgress == nil)
        await client.shutdown()
    }

    /// Blocks received before a recheck closed the peers are written before the check hashes: a write that
    /// lands while the check runs could be hashed half-done (or its verification overwritten) and the piece
    /// downloaded again. Here a write is made to look pending; the check waits for it.
    @Test func aRecheckHashesOnlyOnceReceivedBlocksAreWritten() async throws {
        let folder = try ClientFixtures.temporaryFolder("recheck-writes")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "data.bin", length: 256 * 1024, pieceLength: 16 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let client = try await Client(configuration: configuration)
        let handle = try await client.addTorrent(torrent, downloadDirectory: folder)
        #expect(await client.status(of: handle)?.state == .seeding)
        let passes = Recorder<Int>()
        client.events.on(.pieceHashPass) { event in
            if case .pieceHashPass(_, let index) = event { passes.append(index) }
        }
        try await client.onLoop { core in core.downloads.writeStarted(16 * 1024, session: core.session(handle)!) }
        let rechecking = Task { try await client.recheck(handle) }
        #expect(await ClientFixtures.eventually { await client.status(of: handle)?.state == .checking })
        // While the block's write is pending nothing is hashed (a negative check: the wait is only a chance
        // for a check that does not wait to show itself).
        try await Task.sleep(for: .milliseconds(300))
        let waiting = try #require(await client.status(of: handle))
        #expect(waiting.state == .checking && waiting.checkProgress == 0 && passes.values.isEmpty)
        try await client.onLoop { core in core.downloads.writeFinished(16 * 1024, session: core.session(handle)!) }
        try await rechecking.value
        let done = try #require(await client.status(of: handle))
        #expect(done.state == .seeding && done.isComplete && passes.values.count == 16)
        await client.shutdown()
    }

    @Test func recheckFindsACorruptPieceReportsItAndResumesDownloading() async throws {
        let folder = try ClientFixtures.temporaryFolder("recheck")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pieceLength = 64 * 1024
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "data.bin", length: 16 * 1024 * 1024, pieceLength: pieceLength)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let client = try await Client(configuration: configuration)
        let passed = Recorder<Int>()
        let failed = Recorder<Int>()
        client.events.on(.pieceHashPass) { event in
            if case .pieceHashPass(_, let index) = event { passed.append(index) }
        }
        client.events.on(.pieceHashFail) { event in
            if case .pieceHashFail(_, let index) = event { failed.append(index) }
        }
        let handle = try await client.addTorrent(torrent, downloadDirectory: folder)
        #expect(await client.status(of: handle)?.state == .seeding)
        #expect(passed.values.isEmpty && failed.values.isEmpty)

        // Corrupt one byte of piece 3 behind the client's back.
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: "\(folder)/data.bin"))
        try file.seek(toOffset: UInt64(3 * pieceLength + 5))
        let original = try #require(try file.read(upToCount: 1)).first!
        try file.seek(toOffset: UInt64(3 * pieceLength + 5))
        try file.write(contentsOf: [original ^ 0xff])
        try file.close()

        let checking = Task { try await client.recheck(handle) }
        var sawChecking = false
        let deadline = ContinuousClock.now + .seconds(60)  // a safety bound, not a timing assertion
        while !sawChecking && ContinuousClock.now < deadline {
            let state = await client.status(of: handle)?.state
            if state == .checking { sawChecking = true }
            if state == .downloading || state == .failed { break }
            await Task.yield()
        }
        try await checking.value
        #expect(sawChecking, "the torrent should be visible as checking during the recheck")
        let after = try #require(await client.status(of: handle))
        #expect(after.state == .downloading)
        #expect(after.verifiedPieces == torrent.pieceCount - 1)
        #expect(after.checkProgress == nil)
        #expect(failed.values == [3])
        #expect(Set(passed.values) == Set(0..<torrent.pieceCount).subtracting([3]))
        await client.shutdown()
    }

    /// Data that appears behind the client's back completes a downloading torrent on recheck: that is a
    /// finish like any other (`torrent_finished`, seeding).
    @Test func recheckThatCompletesADownloadReportsTheFinish() async throws {
        let folder = try ClientFixtures.temporaryFolder("recheckdone")
        let target = try ClientFixtures.temporaryFolder("recheckdone-target")
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: target)
        }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "data.bin", length: 1024 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let client = try await Client(configuration: configuration)
        let finished = Recorder<Int>()
        client.events.on(.torrentFinished) { _ in finished.append(1) }
        let handle = try await client.addTorrent(torrent, downloadDirectory: target)
        #expect(await client.status(of: handle)?.state == .downloading)
        // The file appears behind the client's back (the client creates files on first write).
        #expect(!FileManager.default.fileExists(atPath: "\(target)/data.bin"))
        try FileManager.default.copyItem(atPath: "\(folder)/data.bin", toPath: "\(target)/data.bin")
        try await client.recheck(handle)
        let after = try #require(await client.status(of: handle))
        #expect(after.state == .seeding && after.isComplete)
        #expect(finished.values.count == 1)
        await client.shutdown()
    }
}
