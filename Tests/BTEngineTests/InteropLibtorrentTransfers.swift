import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

#if canImport(Glibc)
    import Glibc
#endif

/// A JSON object printed by a peer script, with the value kinds the tests read.
struct JSONLine: Sendable, CustomStringConvertible {
    let ints: [String: Int]
    let bools: [String: Bool]
    let strings: [String: String]
    let text: String

    init(_ object: [String: Any]) {
        ints = object.compactMapValues { $0 as? Int }
        bools = object.compactMapValues { $0 as? Bool }
        strings = object.compactMapValues { $0 as? String }
        text = "\(object)"
    }

    var description: String { text }
}

/// A real peer process for the interop tests, bounded by `timeout` and killed (its process group) when
/// the test ends, pass or fail.
final class InteropProcess: @unchecked Sendable {
    let process = Process()
    let output = Pipe()
    let input = Pipe()

    init(_ arguments: [String], seconds: Int = 150) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", String(seconds)] + arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Reads the first JSON line the process prints (nil when it exits first), on a dispatch thread so the
    /// blocking read never holds a cooperative thread.
    func firstJSON() async -> JSONLine? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let object = self.readJSONLine()
                continuation.resume(returning: object.map(JSONLine.init))
            }
        }
    }

    private func readJSONLine() -> [String: Any]? {
        var line = Data()
        let handle = output.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty { return nil }
            if byte == Data([0x0A]) { break }
            line.append(byte)
        }
        return (try? JSONSerialization.jsonObject(with: line)) as? [String: Any]
    }

    /// Closes stdin (the peer's signal to stop), then signals the process (`timeout` forwards the signal to
    /// the peer; a second one makes aria2 skip its graceful shutdown) and finally kills it, and the peer
    /// itself by its PID: a SIGKILL cannot be forwarded, so a peer still shutting down would outlive
    /// `timeout` (aria2c processes were found hours later).
    func stop() {
        let peers = childPIDs(of: process)
        try? input.fileHandleForWriting.close()
        for signal in [SIGTERM, SIGTERM, SIGKILL] where process.isRunning {
            kill(process.processIdentifier, signal)
            for _ in 0..<20 where process.isRunning { usleep(100_000) }
        }
        if !process.isRunning { process.waitUntilExit() }
        for peer in peers where kill(peer, 0) == 0 { kill(peer, SIGKILL) }
    }

    deinit { stop() }
}

/// Interop with libtorrent-rasterbar (python3-libtorrent, driven by `Fixtures/lt_peer.py`) on loopback, each
/// peer on its own 127.0.0.x, TCP only: libtorrent seeds and we download, then we seed and libtorrent
/// downloads. The multi-file torrent has a 48 KiB piece size, a file smaller than a piece and an empty file;
/// both directions must end with byte-identical files. Skipped when libtorrent is missing, unless
/// NBT_REQUIRE_INTEROP=1.
@Suite(.serialized) struct InteropLibtorrentTransfers {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let python = ProcessInfo.processInfo.environment["NBT_PYTHON"] ?? "/usr/bin/python3"
    static let required = ProcessInfo.processInfo.environment["NBT_REQUIRE_INTEROP"] == "1"

    static func libtorrentAvailable() -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import libtorrent"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus == 0 { return true }
        } catch {}
        if required { Issue.record("libtorrent is missing (\(python) -c 'import libtorrent' failed)") }
        return false
    }

    static func writeTorrentFile(_ torrent: Torrent, in folder: String) throws -> String {
        let path = "\(folder)/test.torrent"
        try Data(torrent.encoded()).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func weDownloadFromALibtorrentSeed() async throws {
        guard Self.libtorrentAvailable() else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("lt-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("nbt-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let torrentFile = try Self.writeTorrentFile(torrent, in: seedFolder)
        let peer = try InteropProcess([
            Self.python, Self.fixtures.appendingPathComponent("lt_peer.py").path, "seed", "127.0.0.2", torrentFile,
            seedFolder,
        ])
        defer { peer.stop() }
        let facts = try #require(await peer.firstJSON())
        let port = try #require(facts.ints["port"], "libtorrent: \(facts)")

        let client = try await Client(configuration: ClientConfiguration(host: "127.0.0.3", ports: [0]))
        let handle = try await client.addTorrent(torrent, downloadDirectory: leechFolder)
        let start = ContinuousClock.now
        try await client.connect(host: "127.0.0.2", port: port, for: handle)
        let status = await ClientFixtures.waitForCompletion(client, handle)
        let elapsed = ContinuousClock.now - start
        await client.shutdown()
        #expect(status?.isComplete == true, "status: \(String(describing: status))")
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        print("libtorrent -> nbt: \(torrent.totalSize) bytes in \(elapsed)")
    }

    @Test func libtorrentDownloadsFromUs() async throws {
        guard Self.libtorrentAvailable() else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("nbt-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("lt-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let torrentFile = try Self.writeTorrentFile(torrent, in: seedFolder)
        let client = try await Client(configuration: ClientConfiguration(host: "127.0.0.4", ports: [0]))
        let handle = try await client.addTorrent(torrent, downloadDirectory: seedFolder)
        #expect(await client.status(of: handle)?.isComplete == true)

        let peer = try InteropProcess([
            Self.python, Self.fixtures.appendingPathComponent("lt_peer.py").path, "download", "127.0.0.5",
            torrentFile, leechFolder, "127.0.0.4", String(client.port),
        ])
        defer { peer.stop() }
        let result = await peer.firstJSON()
        let uploaded = await client.status(of: handle)?.uploadedBytes ?? 0
        await client.shutdown()
        #expect(result?.bools["done"] == true, "libtorrent: \(String(describing: result))")
        #expect(uploaded >= torrent.totalSize)
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        print("nbt -> libtorrent: \(torrent.totalSize) bytes; \(String(describing: result))")
    }
}

/// The children of a running `process` (the peer `timeout` runs), read from /proc while it still runs, so a
/// test can kill them by PID after `timeout` itself was killed.
func childPIDs(of process: Process) -> [pid_t] {
    let pid = process.processIdentifier
    guard process.isRunning,
        let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)
    else { return [] }
    return text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
}
