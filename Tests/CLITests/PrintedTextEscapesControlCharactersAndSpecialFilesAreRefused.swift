import Foundation
import Testing

/// Issue 12, input hygiene: what a torrent says is printed with its control characters escaped, and a
/// path that is not a regular file is refused at once with a clear message.
@Suite(.serialized)
struct PrintedTextEscapesControlCharactersAndSpecialFilesAreRefused {
    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-hygiene-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A bencoded byte string.
    static func string(_ text: String) -> [UInt8] { Array("\(text.utf8.count):".utf8) + Array(text.utf8) }

    /// A one-file v1 torrent whose comment, creator and tracker URL carry terminal escape sequences.
    static func hostileTorrent() -> [UInt8] {
        let escape = "\u{1B}]0;owned\u{07}\u{1B}[2J\u{9B}31m\u{202E}"
        var info: [UInt8] = Array("d".utf8)
        info += string("length") + Array("i1e".utf8)
        info += string("name") + string("evil.bin")
        info += string("piece length") + Array("i16384e".utf8)
        info += string("pieces") + Array("20:".utf8) + Array(repeating: 0x61, count: 20)
        info += Array("e".utf8)
        var torrent: [UInt8] = Array("d".utf8)
        torrent += string("announce") + string("http://t.example/announce?\(escape)")
        torrent += string("comment") + string("line one\nline two\(escape)")
        torrent += string("created by") + string("maker\(escape)")
        torrent += string("info") + info
        torrent += Array("e".utf8)
        return torrent
    }

    @Test func infoEscapesControlCharactersInTheCommentCreatorAndTrackers() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("hostile.torrent").path
        try Data(Self.hostileTorrent()).write(to: URL(fileURLWithPath: path))
        let result = try NBTProcess.run(["info", path], timeout: 60)
        #expect(result.status == 0, "\(result.stderr)")
        let controls = result.stdout.unicodeScalars.filter {
            ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) || $0.value == 0x202E
        }
        #expect(controls.isEmpty, "raw control characters printed: \(controls.map { $0.value })")
        #expect(result.stdout.contains("line one\\x0Aline two\\x1B]0;owned\\x07"))
        #expect(result.stdout.contains("\\u{9B}31m\\u{202E}"))
        // JSON output keeps the text exactly (JSON escapes it its own way).
        let json = try NBTProcess.run(["info", "--json", path], timeout: 60)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["comment"] as? String)?.hasPrefix("line one\nline two\u{1B}]0;owned") == true)
    }

    @Test(arguments: ["/dev/zero", "/dev/urandom", "/dev/null", "/tmp"])
    func specialFilesAreRefusedWithoutReadingThem(path: String) throws {
        let started = Date()
        let result = try NBTProcess.run(["info", path], timeout: 30)
        #expect(result.status != 0)
        #expect(result.stderr.contains("not a torrent file"), "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test func aFIFOIsRefusedWithoutWaitingForAWriter() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("pipe.torrent").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let result = try NBTProcess.run(["info", fifo], timeout: 30)
        #expect(result.status != 0)
        #expect(result.stderr.contains("is a FIFO, not a torrent file"), "\(result.stderr)")
    }

    @Test func aTorrentFileLargerThanTenMegabytesIsRefused() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let big = folder.appendingPathComponent("big.torrent").path
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        #expect(truncate(big, 10_000_001) == 0)
        let result = try NBTProcess.run(["info", big], timeout: 30)
        #expect(result.status != 0)
        #expect(result.stderr.contains("more than a torrent file may be"), "\(result.stderr)")
    }
}
