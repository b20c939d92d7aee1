import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Two clients find each other through a real HTTP tracker on loopback (`Fixtures/recording_tracker.py`, which
/// prints every announce's `event`): each announce is reported on the bus as `tracker_connect`, `tracker_write`,
/// `tracker_read`, `tracker_disconnect` and `tracker_success`, in that order; the leecher announces `completed`
/// when its download finishes and both announce `stopped` when they shut down.
@Suite(.serialized) struct ClientReportsEveryTrackerEvent {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/recording_tracker.py").path

    @Test func announcesAreReportedAndTheTrackerHearsCompletedAndStopped() async throws {
        let tracker = try InteropProcess(["/usr/bin/python3", Self.script], seconds: 120)
        defer { tracker.stop() }
        let port = try #require(await tracker.firstJSON()?.ints["port"])
        let url = "http://127.0.0.1:\(port)/announce"
        let seedFolder = try ClientFixtures.temporaryFolder("tracker-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("tracker-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let payload = (seedFolder as NSString).appendingPathComponent("payload")
        try ClientFixtures.writePayload(ClientFixtures.files, in: payload, seed: 42)
        var creator = TorrentCreator(path: payload)
        creator.version = .v1
        creator.pieceLength = 64 * 1024
        creator.creationDate = nil
        creator.trackers = [[url]]
        let torrent = try creator.create()

        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.trackerAddressPolicy = .allowAll
        let seeder = try await Client(configuration: configuration)
        let leecher = try await Client(configuration: configuration)
        let seederEvents = seeder.events.events()
        let leecherEvents = leecher.events.events(bufferingNewest: 100_000)
        _ = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        // The leecher announces once the tracker knows the seeder.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(60))
            await seeder.shutdown()
        }
        for await event in seederEvents {
            if case .trackerSuccess = event { break }
        }
        watchdog.cancel()
        let handle = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        let done = await ClientFixtures.waitForCompletion(leecher, handle)
        #expect(done?.isComplete == true)
        try await Task.sleep(for: .milliseconds(500))  // lets the `completed` announce go out
        await leecher.shutdown()
        await seeder.shutdown()
        tracker.stop()

        var heard: [String] = []
        while let line = await tracker.firstJSON() { heard.append(line.strings["event"] ?? "?") }
        #expect(heard.filter { $0 == "started" }.count == 2)
        #expect(heard.filter { $0 == "completed" }.count == 1)
        #expect(heard.filter { $0 == "stopped" }.count == 2)

        var kinds: [ClientEvent.Kind] = []
        var announced: [ClientEvent.AnnounceKind?] = []
        var wrote = 0
        var read = 0
        for await event in leecherEvents {
            switch event {
            case .trackerConnect(let info, let kind):
                #expect(info.url == url && info.torrent.name == torrent.name)
                announced.append(kind)
            case .trackerWrite(_, let length): wrote += length
            case .trackerRead(_, let length): read += length
            case .trackerDisconnect(let info): #expect(info.url == url)
            case .trackerSuccess(_, let summary): #expect(summary.interval == .seconds(1800))
            default: continue
            }
            kinds.append(event.kind)
        }
        #expect(
            Array(kinds.prefix(5)) == [
                .trackerConnect, .trackerWrite, .trackerRead, .trackerDisconnect, .trackerSuccess,
            ])
        #expect(announced.contains(.started) && announced.contains(.completed) && announced.contains(.stopped))
        #expect(kinds.filter { $0 == .trackerDisconnect }.count == announced.count)
        #expect(wrote > 0 && read > 0)
    }

    /// A recheck that completes a download announces `completed`, as a download finishing over the wire does.
    @Test func aRecheckThatCompletesTheDownloadAnnouncesCompleted() async throws {
        let tracker = try InteropProcess(["/usr/bin/python3", Self.script], seconds: 120)
        defer { tracker.stop() }
        let port = try #require(await tracker.firstJSON()?.ints["port"])
        let folder = try ClientFixtures.temporaryFolder("tracker-recheck")
        let target = try ClientFixtures.temporaryFolder("tracker-recheck-target")
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: target)
        }
        try ClientFixtures.writePayload([("data.bin", 300_000)], in: folder, seed: 7)
        var creator = TorrentCreator(path: "\(folder)/data.bin")
        creator.version = .v1
        creator.pieceLength = 32 * 1024
        creator.creationDate = nil
        creator.trackers = [["http://127.0.0.1:\(port)/announce"]]
        let torrent = try creator.create()
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.trackerAddressPolicy = .allowAll
        let client = try await Client(configuration: configuration)
        let handle = try await client.addTorrent(torrent, downloadDirectory: target)
        #expect(await tracker.firstJSON()?.strings["event"] == "started")
        try FileManager.default.copyItem(atPath: "\(folder)/data.bin", toPath: "\(target)/data.bin")
        try await client.recheck(handle)
        #expect(await client.status(of: handle)?.state == .seeding)
        #expect(await tracker.firstJSON()?.strings["event"] == "completed")
        await client.shutdown()
        #expect(await tracker.firstJSON()?.strings["event"] == "stopped")
    }
}
