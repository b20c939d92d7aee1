import BTMetainfo
import BTWire
import Foundation
import Testing

@testable import BTEngine

/// Helpers for tests that run real ``Client``s: payload folders, torrents, and bounded waiting.
enum ClientFixtures {
    /// A fresh temporary folder.
    static func temporaryFolder(_ label: String) throws -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("nbt-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes deterministic pseudo-random files (relative path, length) below `folder`.
    static func writePayload(_ files: [(String, Int)], in folder: String, seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        for (path, length) in files {
            let full = (folder as NSString).appendingPathComponent(path)
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            var bytes = [UInt8](repeating: 0, count: length)
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: generator.next()) }
            #expect(FileManager.default.createFile(atPath: full, contents: Data(bytes)))
        }
    }

    /// The multi-file payload of the transfer tests: a 48 KiB piece size (three blocks, not a power of two),
    /// a file smaller than a piece, a zero-length file, and files that straddle piece boundaries.
    static let files: [(String, Int)] = [
        ("alpha.bin", 700_001),
        ("beta/small.txt", 5_000),
        ("beta/empty.dat", 0),
        ("gamma.bin", 1_300_007),
    ]

    /// Creates the payload under `folder/payload` and its v1 torrent.
    static func makeTorrent(in folder: String, pieceLength: Int = 48 * 1024) throws -> Torrent {
        let payload = (folder as NSString).appendingPathComponent("payload")
        try writePayload(files, in: payload, seed: 42)
        var creator = TorrentCreator(path: payload)
        creator.version = .v1
        creator.pieceLength = pieceLength
        creator.creationDate = nil
        return try creator.create()
    }

    /// Makes a seed of `torrent` in `folder` (`folder/payload`) a liar: flips the first byte of every piece on
    /// disk, after its hash check passed, so it serves a wrong block in every piece.
    static func flipFirstByteOfEveryPiece(of torrent: Torrent, in folder: String) throws {
        let layout = torrent.layout
        for piece in 0..<torrent.pieceCount {
            guard let slice = layout.slices(piece: piece).first(where: { $0.length > 0 }) else { continue }
            let path = "\(folder)/payload/\(layout.files[slice.fileIndex].path.joined(separator: "/"))"
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            try handle.seek(toOffset: UInt64(slice.offsetInFile))
            let byte = try handle.read(upToCount: 1) ?? Data([0])
            try handle.seek(toOffset: UInt64(slice.offsetInFile))
            try handle.write(contentsOf: Data([byte[byte.startIndex] ^ 0xFF]))
            try handle.close()
        }
    }

    /// Whether every file of `files` under `a/payload` and `b/payload` is byte-identical.
    static func identical(_ a: String, _ b: String) -> Bool {
        files.allSatisfy { path, length in
            let first = FileManager.default.contents(atPath: "\(a)/payload/\(path)")
            let second = FileManager.default.contents(atPath: "\(b)/payload/\(path)")
            return first != nil && first == second && first?.count == length
        }
    }

    /// Polls `client` until `handle` is complete or `limit` passes (a safety bound, not a timing assertion).
    static func waitForCompletion(_ client: Client, _ handle: TorrentHandle, limit: Duration = .seconds(120)) async
        -> TorrentStatus?
    {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if let status = await client.status(of: handle), status.isComplete { return status }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return await client.status(of: handle)
    }
}

/// Two ``Client``s in one process on 127.0.0.1: one seeds a multi-file torrent (odd piece size, a file
/// smaller than a piece, a zero-length file), the other connects to it by address and downloads it; the
/// files must be byte-identical and the events must report the pieces and completion.
@Suite(.serialized) struct ClientTransfersATorrentOverLoopback {
    @Test func leecherDownloadsEveryFileByteIdentically() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("seed")
        let leechFolder = try ClientFixtures.temporaryFolder("leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        #expect(torrent.pieceLength == 48 * 1024)

        let seeder = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [0]))
        let leecher = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [0]))
        #expect(seeder.port != 0 && leecher.port != seeder.port)
        #expect(seeder.peerID != leecher.peerID)
        let events = leecher.events.events(bufferingNewest: 100_000)

        let seeding = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let seedStatus = try #require(await seeder.status(of: seeding))
        #expect(seedStatus.isComplete && seedStatus.state == .seeding)

        let resume = "\(leechFolder)/resume.dat"
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder, resume: resume)
        #expect(await leecher.torrents == [downloading])
        let before = try #require(await leecher.status(of: downloading))
        #expect(before.verifiedPieces == 0 && before.state == .downloading)
        // The empty file exists before any piece arrives.
        #expect(FileManager.default.fileExists(atPath: "\(leechFolder)/payload/beta/empty.dat"))

        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, downloading))
        #expect(done.isComplete)
        #expect(done.state == .seeding)
        #expect(done.verifiedBytes == torrent.totalSize)
        #expect(done.downloadedBytes >= torrent.totalSize)
        let uploaded = try #require(await seeder.status(of: seeding)).uploadedBytes
        #expect(uploaded >= torrent.totalSize)

        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        #expect(FileManager.default.fileExists(atPath: resume))

        var passed: Set<Int> = []
        var finished = 0
        var connected = 0
        var written = 0
        var openedForWriting = 0
        for await event in events {
            switch event {
            case .fileWrite(_, let length): written += length
            case .fileOpen(_, let mode) where mode == .write: openedForWriting += 1
            case .pieceHashPass(_, let index): passed.insert(index)
            case .torrentFinished: finished += 1
            case .peerConnect: connected += 1
            default: break
            }
        }
        #expect(passed == Set(0..<torrent.pieceCount))
        #expect(finished == 1)
        #expect(connected >= 1)
        #expect(written == Int(torrent.totalSize))
        #expect(openedForWriting >= 3)
    }

    @Test func secondRunResumesFromResumeDataWithoutDownloading() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("seed")
        defer { try? FileManager.default.removeItem(atPath: seedFolder) }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let resume = "\(seedFolder)/resume.dat"
        let first = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [0]))
        let handle = try await first.addTorrent(torrent, downloadDirectory: seedFolder, resume: resume)
        #expect(await first.status(of: handle)?.isComplete == true)
        await first.shutdown()
        #expect(FileManager.default.fileExists(atPath: resume))

        let second = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [0]))
        let again = try await second.addTorrent(torrent, downloadDirectory: seedFolder, resume: resume)
        let status = try #require(await second.status(of: again))
        #expect(status.isComplete && status.downloadedBytes == 0)
        await #expect(throws: EngineError.self) {
            try await second.addTorrent(torrent, downloadDirectory: seedFolder)
        }
        try await second.removeTorrent(again)
        #expect(await second.torrents.isEmpty)
        await second.shutdown()
    }

    @Test func listenerTakesTheFirstFreePortOfTheList() async throws {
        let first = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [0]))
        let second = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [first.port, 0]))
        #expect(second.port != first.port && second.port != 0)
        await #expect(throws: EngineError.self) {
            _ = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [first.port]))
        }
        await second.shutdown()
        await first.shutdown()
    }

    @Test func peerForAnUnknownTorrentIsRefusedWithNoSuchTorrent() async throws {
        let folder = try ClientFixtures.temporaryFolder("unknown")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeTorrent(in: folder)
        let server = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [0]))
        let dialler = try await Client(configuration: ClientConfiguration(host: "127.0.0.1", ports: [0]))
        let serverEvents = server.events.events()
        let handle = try await dialler.addTorrent(torrent, downloadDirectory: folder)
        try await dialler.connect(host: "127.0.0.1", port: server.port, for: handle)
        let watchdog = Task {
            try await Task.sleep(for: .seconds(60))
            await server.shutdown()  // ends the event stream: the expectation below then fails
        }
        var reason: BTEngine.DisconnectReason?
        var asked: [UInt8]?
        for await event in serverEvents {
            if case .peerDisconnect(let peer, let why) = event {
                reason = why
                asked = peer.infoHash
                break
            }
        }
        watchdog.cancel()
        #expect(reason == .noSuchTorrent)
        #expect(reason?.code == 3 && reason?.seedConstant == "DISCONNECT_NO_SUCH_TORRENT")
        #expect(asked == torrent.infoHashes.wire, "the refusal names the info-hash the peer asked for")
        await dialler.shutdown()
        await server.shutdown()
    }
}
