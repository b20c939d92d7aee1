import Foundation
import Testing

/// `nbt info` and `nbt create` on torrents made by libtorrent, mktorrent and transmission-create: the JSON
/// reports libtorrent's info-hashes, created torrents have libtorrent's info-hashes, and errors are one line.
@Suite(.serialized)
struct InfoAndCreateCommands {
    static let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../BTMetainfoTests/Fixtures/lt_helper.py").standardized.path
    static let badCorpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../BTMetainfoTests/Corpus/bad").standardized

    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: url.appendingPathComponent("content/sub"), withIntermediateDirectories: true)
        try Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(
            to: url.appendingPathComponent("content/big.bin"))
        try Data("hello\n".utf8).write(to: url.appendingPathComponent("content/sub/small.txt"))
        try Data().write(to: url.appendingPathComponent("content/empty"))
        return url
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// What libtorrent reports for a torrent file (v1 and v2 hashes as hex, "" when absent).
    static func libtorrentHashes(_ torrent: String) throws -> (String, String) {
        let output = try Tool.run(Tool.python, [helper, "dump", torrent])
        let object = try json(output)
        return (object["v1"] as? String ?? "", object["v2"] as? String ?? "")
    }

    static func infoJSON(_ torrent: String) throws -> [String: Any] {
        let result = try NBTProcess.run(["info", "--json", torrent])
        #expect(result.status == 0, "nbt info failed: \(result.stderr)")
        return try json(result.stdout)
    }

    @Test(.enabled(if: Tool.enabled("libtorrent")), arguments: ["v1", "v2", "hybrid"])
    func infoReportsLibtorrentHashes(mode: String) throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("lt.torrent").path
        try Tool.run(
            Tool.python,
            [
                Self.helper, "create", folder.appendingPathComponent("content").path, out, "--mode", mode, "--tracker",
                "http://t/announce", "--comment", "hi",
            ])
        let (v1, v2) = try Self.libtorrentHashes(out)
        let info = try Self.infoJSON(out)
        #expect((info["infoHashV1"] as? String ?? "") == v1)
        #expect((info["infoHashV2"] as? String ?? "") == v2)
        #expect(info["name"] as? String == "content")
        #expect(info["comment"] as? String == "hi")
        #expect(info["totalSize"] as? Int == 100_006)
        let text = try NBTProcess.run(["info", out])
        #expect(text.status == 0)
        #expect(text.stdout.contains("content") && text.stdout.contains("http://t/announce"))
        if !v1.isEmpty { #expect(text.stdout.contains(v1)) }
        if !v2.isEmpty { #expect(text.stdout.contains(v2)) }
    }

    @Test(.enabled(if: Tool.enabled("mktorrent") && Tool.enabled("libtorrent")), arguments: [false, true])
    func infoReadsMktorrent(isPrivate: Bool) throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("mk.torrent").path
        try Tool.run(
            "mktorrent",
            ["-a", "http://t/announce", "-o", out] + (isPrivate ? ["-p"] : [])
                + [folder.appendingPathComponent("content").path])
        let info = try Self.infoJSON(out)
        #expect((info["infoHashV1"] as? String) == (try Self.libtorrentHashes(out)).0)
        #expect(info["private"] as? Bool == isPrivate)
        #expect(info["trackers"] as? [[String]] == [["http://t/announce"]])
    }

    @Test(.enabled(if: Tool.enabled("transmission-create") && Tool.enabled("libtorrent")))
    func infoReadsTransmission() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("tr.torrent").path
        try Tool.run(
            "transmission-create",
            ["-o", out, "-t", "http://t/announce", "-p", folder.appendingPathComponent("content").path])
        let info = try Self.infoJSON(out)
        #expect((info["infoHashV1"] as? String) == (try Self.libtorrentHashes(out)).0)
        #expect(info["private"] as? Bool == true)
    }

    @Test(.enabled(if: Tool.enabled("libtorrent")), arguments: ["v1", "v2", "hybrid"])
    func createMatchesLibtorrent(mode: String) throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let content = folder.appendingPathComponent("content").path
        let ours = folder.appendingPathComponent("ours.torrent").path
        let theirs = folder.appendingPathComponent("theirs.torrent").path
        let result = try NBTProcess.run(
            [
                "create", content, "-o", ours, "--\(mode)", "--piece-size", "32K", "--tracker", "http://t/a",
                "--private", "--comment", "c",
            ])
        #expect(result.status == 0, "nbt create failed: \(result.stderr)")
        #expect(result.stderr.isEmpty, "progress output when stderr is not a terminal: \(result.stderr)")
        try Tool.run(
            Tool.python,
            [
                Self.helper, "create", content, theirs, "--mode", mode, "--piece-size", "32768", "--tracker",
                "http://t/a",
                "--private", "--comment", "c",
            ])
        let (v1, v2) = try Self.libtorrentHashes(theirs)
        #expect(try Self.libtorrentHashes(ours) == (v1, v2))
        let info = try Self.infoJSON(ours)
        #expect((info["infoHashV1"] as? String ?? "") == v1)
        #expect((info["infoHashV2"] as? String ?? "") == v2)
        #expect(info["format"] as? String == mode)
    }

    @Test func defaultFormatIsHybridWithAutomaticPieceSize() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("d.torrent").path
        let result = try NBTProcess.run(["create", folder.appendingPathComponent("content").path, "-o", out])
        #expect(result.status == 0, "\(result.stderr)")
        let info = try Self.infoJSON(out)
        #expect(info["format"] as? String == "hybrid")
        #expect(info["pieceLength"] as? Int == 16_384)
        #expect(info["createdBy"] as? String == "NetBitTorrent")
        #expect(info["creationDate"] as? Int != nil)
    }

    @Test func infoOnMagnetLink() throws {
        let link = "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=Name&tr=http%3A%2F%2Ft%2Fa"
        let info = try Self.json(try NBTProcess.run(["info", "--json", link]).stdout)
        #expect(info["infoHashV1"] as? String == "c12fe1c06bba254a9dc9f519b335aa7c1367a88a")
        #expect(info["name"] as? String == "Name")
        #expect(info["trackers"] as? [String] == ["http://t/a"])
        let text = try NBTProcess.run(["info", link])
        #expect(text.status == 0 && text.stdout.contains("c12fe1c06bba254a9dc9f519b335aa7c1367a88a"))
    }

    @Test(arguments: ["v2_piece_layer_wrong_root.torrent", "negative_piece_len.torrent", "not_bencode.torrent"])
    func badTorrentIsOneErrorLine(file: String) throws {
        let result = try NBTProcess.run(["info", Self.badCorpus.appendingPathComponent(file).path])
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("nbt: error: "))
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    /// A torrent with `..` in a path opens (as in libtorrent) and shows the name on disk beside the given one.
    @Test func sanitizedNamesAreShownBesideTheOriginal() throws {
        let result = try NBTProcess.run(["info", Self.badCorpus.appendingPathComponent("parent_path.torrent").path])
        #expect(result.status == 0)
        #expect(result.stdout.contains("_/_/etc/passwd  (given as \"../../etc/passwd\")"), "\(result.stdout)")
    }

    @Test(arguments: [
        ["info", "/nonexistent/file.torrent"], ["info", "magnet:?xt=urn:btih:zz"],
        ["create", "/nonexistent/folder", "-o", "/tmp/never.torrent"],
        ["create", "/etc/hostname", "--piece-size", "banana"],
        ["create", "/etc/hostname", "--v2", "--piece-size", "1000", "-o", "/tmp/never.torrent"],
    ])
    func usageErrorsAreOneLine(arguments: [String]) throws {
        let result = try NBTProcess.run(arguments)
        #expect(result.status != 0)
        #expect(result.stderr.hasPrefix("nbt: error: "), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
    }
}

/// Runs the real tools the CLI tests compare against, bounded in time.
enum Tool {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static var python: String { ProcessInfo.processInfo.environment["NBT_PYTHON"] ?? "/usr/bin/python3" }
    static var required: Bool { ProcessInfo.processInfo.environment["NBT_REQUIRE_INTEROP"] == "1" }

    static func which(_ name: String) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            if FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") { return "\(folder)/\(name)" }
        }
        return nil
    }

    static let libtorrentAvailable: Bool = (try? run(python, ["-c", "import libtorrent"])) != nil

    static func enabled(_ tool: String) -> Bool {
        required || (tool == "libtorrent" ? libtorrentAvailable : which(tool) != nil)
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 120) throws -> String {
        guard let path = which(executable) else { throw Failure(description: "\(executable) is not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-cli-out-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            usleep(200_000)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            throw Failure(description: "\(executable) did not finish in \(timeout) s")
        }
        process.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(executable) exited \(process.terminationStatus): \(text)")
        }
        return text
    }
}
