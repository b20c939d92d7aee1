import BTEngine
import BTMetainfo
import Foundation
import Testing

@testable import BTDaemon

/// The engine-backed daemon carries out the second slice's edits on a real engine: `torrent-set-location`
/// with `move` moves the data and the torrent keeps seeding from the new place, without `move` it points at
/// the new place and checks what is there; tracker edits and labels show in `torrent-get` and survive a
/// restart (the trackers in the kept .torrent, whose info-hash does not change); a blocklist read from a file
/// is kept and applied again after a restart.
@Suite(.serialized) struct EngineBackendMovesRetracksAndBlocks {
    static func waitUntil(_ limit: Duration = .seconds(30), _ condition: () async -> Bool) async -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    @Test func moveRelocateRetrackLabelAndBlocklist() async throws {
        let base = try EngineBackendKeepsTorrentsAcrossRestarts.folder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let torrent = try EngineBackendKeepsTorrentsAcrossRestarts.torrent(
            named: "moving.bin", in: base + "/data", bytes: 200_000)
        let hash = InfoHashes.hex(torrent.infoHashes.wire)
        let client = try await Client(configuration: EngineBackendKeepsTorrentsAcrossRestarts.configuration())
        let backend = try EngineBackend(
            client: client, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        _ = try await backend.add(AddTorrentRequest(source: .metainfo(torrent.encoded())))
        await backend.settled()
        func snapshot() async throws -> TorrentSnapshot {
            try #require(await backend.snapshots(ids: [1], detail: [.files, .trackers]).first)
        }
        #expect(try await snapshot().activity == .seeding)

        // Move: the file goes, the torrent seeds from the new place.
        try await backend.setLocation(ids: [1], location: base + "/moved", move: true)
        #expect(FileManager.default.fileExists(atPath: base + "/moved/moving.bin"))
        #expect(!FileManager.default.fileExists(atPath: base + "/data/moving.bin"))
        await backend.settled()
        let moved = try await snapshot()
        #expect(moved.downloadDir == base + "/moved" && moved.activity == .seeding && moved.percentDone == 1)
        // Point elsewhere without moving: nothing is there, the check finds nothing.
        try await backend.setLocation(ids: [1], location: base + "/empty", move: false)
        #expect(
            await Self.waitUntil {
                let now = try? await snapshot()
                return now?.downloadDir == base + "/empty" && now?.percentDone == 0 && now?.activity != .checking
            })
        #expect(FileManager.default.fileExists(atPath: base + "/moved/moving.bin"))

        // Trackers and labels.
        var changes = TorrentChanges()
        changes.trackerAdd = ["http://127.0.0.1:1/announce", "udp://127.0.0.1:2"]
        changes.labels = ["films", "hd"]
        try await backend.set(ids: [1], changes)
        changes = TorrentChanges()
        changes.trackerReplace = [TrackerReplacement(id: 1, announce: "udp://127.0.0.1:3")]
        try await backend.set(ids: [1], changes)
        let edited = try await snapshot()
        #expect(edited.trackers.map(\.announce) == ["http://127.0.0.1:1/announce", "udp://127.0.0.1:3"])
        #expect(edited.trackers.map(\.id) == [0, 1] && edited.trackers.map(\.tier) == [0, 1])
        #expect(edited.labels == ["films", "hd"])
        let kept = try Torrent(contentsOf: base + "/config/torrents/\(hash).torrent")
        #expect(kept.announceTiers == [["http://127.0.0.1:1/announce"], ["udp://127.0.0.1:3"]])
        #expect(kept.infoHashes == torrent.infoHashes)

        // A blocklist from a file: two ranges (the P2P line and the CIDR block), the comment skipped.
        try "# test list\nlocal peers:127.0.0.5-127.0.0.9\n10.0.0.0/8\n".write(
            toFile: base + "/list.p2p", atomically: true, encoding: .utf8)
        var session = SessionChanges()
        session.blocklistURL = base + "/list.p2p"
        session.blocklistEnabled = true
        try await backend.setSession(session)
        #expect(try await backend.updateBlocklist() == 2)
        #expect(await backend.session().blocklistSize == 2)
        try "not an address\n".write(toFile: base + "/bad.p2p", atomically: true, encoding: .utf8)
        session = SessionChanges()
        session.blocklistURL = base + "/bad.p2p"
        try await backend.setSession(session)
        await #expect(throws: DaemonError.self) { _ = try await backend.updateBlocklist() }
        #expect(await backend.session().blocklistSize == 2)
        await client.shutdown()

        // After a restart: trackers, labels, location and blocklist are back.
        let again = try await Client(configuration: EngineBackendKeepsTorrentsAcrossRestarts.configuration())
        let restarted = try EngineBackend(
            client: again, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        await restarted.restore()
        await restarted.settled()
        let back = try #require(await restarted.snapshots(ids: [1], detail: [.trackers]).first)
        #expect(back.trackers.map(\.announce) == ["http://127.0.0.1:1/announce", "udp://127.0.0.1:3"])
        #expect(back.labels == ["films", "hd"] && back.downloadDir == base + "/empty")
        let settings = await restarted.session()
        #expect(settings.blocklistSize == 2 && settings.blocklistEnabled)
        await again.shutdown()
    }
}
