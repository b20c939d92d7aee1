import BTEngine
import BTMetainfo
import Foundation
import Testing

@testable import BTDaemon

/// The engine-backed daemon keeps its torrents in the config directory: a restart brings back every torrent
/// with its id, stopped or not, its limits and file selection, and its data verified without downloading;
/// a copy of the config directory taken while the daemon ran (as after `kill -9`) is enough.
@Suite(.serialized) struct EngineBackendKeepsTorrentsAcrossRestarts {
    static func configuration() -> ClientConfiguration {
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        return configuration
    }

    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "nbt-daemon-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path + "/data", withIntermediateDirectories: true)
        return path
    }

    static func torrent(named name: String, in folder: String, bytes: Int) throws -> Torrent {
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try data.write(to: URL(fileURLWithPath: folder + "/" + name))
        var creator = TorrentCreator(path: folder + "/" + name)
        creator.version = .v1
        creator.pieceLength = 32 * 1024
        return try creator.create()
    }

    func snapshot(_ backend: EngineBackend, _ id: Int) async throws -> TorrentSnapshot {
        try #require(await backend.snapshots(ids: [id], detail: [.files]).first)
    }

    @Test func aRestartBringsBackEveryTorrentInItsState() async throws {
        let base = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let present = try Self.torrent(named: "present.bin", in: base + "/data", bytes: 300_000)
        let elsewhere = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let missing = try Self.torrent(named: "missing.bin", in: elsewhere, bytes: 100_000)

        let first = try await Client(configuration: Self.configuration())
        let backend = try EngineBackend(
            client: first, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        let added = try await backend.add(AddTorrentRequest(source: .metainfo(present.encoded())))
        #expect(added == .added(id: 1, name: "present.bin", hashString: InfoHashes.hex(present.infoHashes.wire)))
        let paused = try await backend.add(AddTorrentRequest(source: .metainfo(missing.encoded()), paused: true))
        guard case .added(2, _, _) = paused else { throw CancellationError() }
        #expect(
            try await backend.add(AddTorrentRequest(source: .metainfo(present.encoded())))
                == .duplicate(id: 1, name: "present.bin", hashString: InfoHashes.hex(present.infoHashes.wire)))
        var limits = TorrentChanges()
        limits.downloadLimit = 50
        limits.downloadLimited = true
        limits.filesUnwanted = [0]
        try await backend.set(ids: [2], limits)
        var session = SessionChanges()
        session.speedLimitUp = 40
        session.speedLimitUpEnabled = true
        try await backend.setSession(session)
        await backend.settled()
        let seeding = try await snapshot(backend, 1)
        #expect(seeding.activity == .seeding && seeding.percentDone == 1 && seeding.files[0].bytesCompleted == 300_000)
        await first.shutdown()

        let second = try await Client(configuration: Self.configuration())
        let restarted = try EngineBackend(
            client: second, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        await restarted.restore()
        // Listed at once, in the engine once their resume data is read.
        #expect(await restarted.torrentIDs().map(\.id) == [1, 2])
        await restarted.settled()
        let back = try await snapshot(restarted, 1)
        #expect(back.activity == .seeding && back.percentDone == 1 && back.downloadedEver == 0)
        let stopped = try await snapshot(restarted, 2)
        #expect(stopped.activity == .stopped && stopped.downloadLimited && stopped.downloadLimit == 50)
        #expect(stopped.files.map(\.wanted) == [false])
        let settings = await restarted.session()
        #expect(settings.speedLimitUp == 40 && settings.speedLimitUpEnabled && !settings.speedLimitDownEnabled)
        // A new torrent after the restart does not reuse an id.
        let third = try Self.torrent(named: "third.bin", in: base + "/data", bytes: 40_000)
        #expect(
            try await restarted.add(AddTorrentRequest(source: .metainfo(third.encoded())))
                == .added(id: 3, name: "third.bin", hashString: InfoHashes.hex(third.infoHashes.wire)))
        try await restarted.remove(ids: [3], deleteData: true)
        #expect(!FileManager.default.fileExists(atPath: base + "/data/third.bin"))
        #expect(await restarted.torrentIDs().map(\.id) == [1, 2])
        await second.shutdown()
    }

    @Test func concurrentAddsGetDistinctIDs() async throws {
        let base = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let torrents = try (0..<4).map { try Self.torrent(named: "t\($0).bin", in: base + "/data", bytes: 50_000) }
        let client = try await Client(configuration: Self.configuration())
        let backend = try EngineBackend(
            client: client, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        let outcomes = await withTaskGroup(of: AddTorrentOutcome?.self) { group in
            for torrent in torrents + torrents {
                group.addTask { try? await backend.add(AddTorrentRequest(source: .metainfo(torrent.encoded()))) }
            }
            var outcomes: [AddTorrentOutcome] = []
            for await outcome in group { if let outcome { outcomes.append(outcome) } }
            return outcomes
        }
        var added: [Int] = []
        for case .added(let id, _, _) in outcomes { added.append(id) }
        #expect(added.count == 4 && Set(added).count == 4)
        #expect(await backend.torrentIDs().count == 4)
        await client.shutdown()
    }

    @Test func theConfigDirectoryOfARunningDaemonIsEnoughToComeBack() async throws {
        let base = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let present = try Self.torrent(named: "kept.bin", in: base + "/data", bytes: 200_000)
        let running = try await Client(configuration: Self.configuration())
        let backend = try EngineBackend(
            client: running, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        _ = try await backend.add(AddTorrentRequest(source: .metainfo(present.encoded())))
        try await backend.stop(ids: [1])
        // What a kill -9 leaves: the config directory as it is while the daemon runs.
        try FileManager.default.copyItem(atPath: base + "/config", toPath: base + "/killed")
        await running.shutdown()

        let client = try await Client(configuration: Self.configuration())
        let restarted = try EngineBackend(
            client: client, configDir: base + "/killed", downloadDir: base + "/data", logger: .init(label: "test"))
        await restarted.restore()
        await restarted.settled()
        let back = try await snapshot(restarted, 1)
        #expect(back.activity == .stopped && back.percentDone == 1 && back.downloadedEver == 0)
        try await restarted.start(ids: [1], now: false)
        #expect(try await snapshot(restarted, 1).activity == .seeding)
        await client.shutdown()
    }
}
