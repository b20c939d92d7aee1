import Foundation

/// Runs real BitTorrent tools (libtorrent through Debian's Python, mktorrent, transmission-create) for the
/// interop tests, each bounded in time and killed if it overruns.
enum ExternalTool {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Python with the libtorrent bindings (`NBT_PYTHON`, default `/usr/bin/python3`).
    static var python: String { ProcessInfo.processInfo.environment["NBT_PYTHON"] ?? "/usr/bin/python3" }

    /// When set, a missing tool fails the test instead of skipping it.
    static var required: Bool { ProcessInfo.processInfo.environment["NBT_REQUIRE_INTEROP"] == "1" }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures")
    static var helper: String { fixtures.appendingPathComponent("lt_helper.py").path }

    /// Full path of `name` on PATH, or nil.
    static func which(_ name: String) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static let libtorrentAvailable: Bool = {
        (try? run(python, ["-c", "import libtorrent"], timeout: 30)) != nil
    }()

    /// Whether a test needing `tool` should run: it is installed, or interop is required (then it fails).
    static func enabled(_ tool: String) -> Bool {
        required || (tool == "libtorrent" ? libtorrentAvailable : which(tool) != nil)
    }

    /// Runs `executable` with `arguments`; returns stdout. Throws on a non-zero exit or after `timeout` seconds
    /// (the process is killed).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 120) throws -> String {
        guard let path = which(executable) else { throw Failure(description: "\(executable) is not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let outFile = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-tool-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outFile) }
        let handle = try FileHandle(forWritingTo: outFile)
        process.standardOutput = handle
        process.standardError = handle
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
        let output = (try? String(contentsOf: outFile, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(executable) \(arguments) exited \(process.terminationStatus): \(output)")
        }
        return output
    }

    /// A fresh temporary folder, removed by the caller.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes `size` deterministic pseudo-random bytes to `url` (parent folders created).
    static func writeFile(_ url: URL, size: Int, seed: UInt64) throws {
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var bytes = [UInt8](repeating: 0, count: size)
        for index in bytes.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[index] = UInt8(truncatingIfNeeded: state)
        }
        try Data(bytes).write(to: url)
    }
}

/// What libtorrent's `torrent_info` reports (Fixtures/lt_helper.py dump).
struct LibtorrentDump: Decodable {
    struct File: Decodable {
        var path: String
        var size: Int64
        var offset: Int64
        var pad: Bool
        var executable: Bool
        var root: String
    }
    struct Tracker: Decodable, Equatable {
        var url: String
        var tier: Int
    }
    var name: String
    var v1: String
    var v2: String
    var piece_length: Int
    var num_pieces: Int
    var total_size: Int64
    var files: [File]
    var trackers: [Tracker]
    var web_seeds: [String]
    var `private`: Bool
    var comment: String
    var creator: String
    var creation_date: Int64

    static func of(_ torrentPath: String) throws -> LibtorrentDump {
        let json = try ExternalTool.run(ExternalTool.python, [ExternalTool.helper, "dump", torrentPath])
        return try JSONDecoder().decode(LibtorrentDump.self, from: Data(json.utf8))
    }
}
