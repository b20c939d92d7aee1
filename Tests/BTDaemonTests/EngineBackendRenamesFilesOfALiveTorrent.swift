import BTEngine
import BTMetainfo
import Foundation
import Testing

@testable import BTDaemon

/// `torrent-rename-path` on a real engine: a file, a folder and the torrent's root folder of a seeding
/// torrent are renamed on disk, listed under their new names, and the torrent keeps seeding; a restart from
/// the config directory as it was while the daemon ran (as after `kill -9`) finds every file at its new name
/// with nothing to download again. Paths that name nothing, or a name already taken, are refused.
@Suite(.serialized) struct EngineBackendRenamesFilesOfALiveTorrent {
    static func album(in folder: String) throws -> Torrent {
        let root = folder + "/album"
        try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        for (name, size) in [("a.bin", 70_000), ("sub/b.bin", 50_000)] {
            let data = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try data.write(to: URL(fileURLWithPath: root + "/" + name))
        }
        var creator = TorrentCreator(path: root)
        creator.version = .v1
        creator.pieceLength = 16 * 1024
        return try creator.create()
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test func aFileAFolderAndTheRootAreRenamedAndARestartFindsThem() async throws {
        let base = try EngineBackendKeepsTorrentsAcrossRestarts.folder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let torrent = try Self.album(in: base + "/data")
        let client = try await Client(configuration: EngineBackendKeepsTorrentsAcrossRestarts.configuration())
        let backend = try EngineBackend(
            client: client, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        _ = try await backend.add(AddTorrentRequest(source: .metainfo(torrent.encoded())))
        await backend.settled()
        func snapshot(_ backend: EngineBackend) async throws -> TorrentSnapshot {
            try #require(await backend.snapshots(ids: [1], detail: [.files]).first)
        }
        #expect(try await snapshot(backend).files.map(\.name) == ["album/a.bin", "album/sub/b.bin"])

        let answer = try await backend.renamePath(id: 1, path: "album/a.bin", name: "c.bin")
        #expect(answer.path == "album/a.bin" && answer.name == "c.bin")
        #expect(Self.exists(base + "/data/album/c.bin") && !Self.exists(base + "/data/album/a.bin"))
        _ = try await backend.renamePath(id: 1, path: "album/sub", name: "deep")
        #expect(Self.exists(base + "/data/album/deep/b.bin") && !Self.exists(base + "/data/album/sub"))
        _ = try await backend.renamePath(id: 1, path: "album", name: "record")
        #expect(Self.exists(base + "/data/record/c.bin") && Self.exists(base + "/data/record/deep/b.bin"))
        #expect(!Self.exists(base + "/data/album"))

        let renamed = try await snapshot(backend)
        #expect(renamed.name == "record")
        #expect(renamed.files.map(\.name) == ["record/c.bin", "record/deep/b.bin"])
        #expect(renamed.activity == .seeding && renamed.haveValid == 120_000)

        // Nothing there, a name taken, an unknown id: refused, nothing moved.
        await #expect(throws: DaemonError.self) { _ = try await backend.renamePath(id: 1, path: "album", name: "x") }
        await #expect(throws: DaemonError.self) {
            _ = try await backend.renamePath(id: 1, path: "record/c.bin", name: "deep")
        }
        await #expect(throws: DaemonError.self) { _ = try await backend.renamePath(id: 9, path: "record", name: "x") }
        #expect(Self.exists(base + "/data/record/c.bin"))

        // The config directory as it is while the daemon runs is enough to come back renamed and complete.
        try FileManager.default.copyItem(atPath: base + "/config", toPath: base + "/copy")
        await client.shutdown()
        let again = try await Client(configuration: EngineBackendKeepsTorrentsAcrossRestarts.configuration())
        let restarted = try EngineBackend(
            client: again, configDir: base + "/copy", downloadDir: base + "/data", logger: .init(label: "test"))
        await restarted.restore()
        await restarted.settled()
        let back = try await snapshot(restarted)
        #expect(back.name == "record")
        #expect(back.files.map(\.name) == ["record/c.bin", "record/deep/b.bin"])
        #expect(
            back.activity == .seeding && back.haveValid == 120_000
                && back.files.allSatisfy { $0.bytesCompleted == $0.length })
        #expect(!Self.exists(base + "/data/album"))
        await again.shutdown()
    }

    @Test(arguments: [
        ("album/a.bin", "c.bin", [0: ["album", "c.bin"]]),
        ("album/sub", "deep", [1: ["album", "deep", "b.bin"]]),
        ("album", "record", [0: ["record", "a.bin"], 1: ["record", "sub", "b.bin"]]),
    ])
    func renamingMovesEveryFileUnderThePath(path: String, name: String, expected: [Int: [String]]) throws {
        let paths = [["album", "a.bin"], ["album", "sub", "b.bin"], ["album", ".pad", "7"]]
        #expect(try EngineBackend.renaming(paths, pads: [2], path: path, name: name) == expected)
    }

    @Test func renamingNothingOrOntoATakenNameIsRefused() {
        let paths = [["album", "a.bin"], ["album", "sub", "b.bin"]]
        #expect(throws: DaemonError.self) { try EngineBackend.renaming(paths, pads: [], path: "album/z", name: "y") }
        #expect(throws: DaemonError.self) { try EngineBackend.renaming(paths, pads: [], path: "alb", name: "y") }
        #expect(throws: DaemonError.self) {
            try EngineBackend.renaming(paths, pads: [], path: "album/a.bin", name: "sub")
        }
        #expect(throws: DaemonError.self) { try EngineBackend.renaming(paths, pads: [], path: "", name: "y") }
    }
}
