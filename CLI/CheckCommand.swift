import ArgumentParser
import BTMetainfo
import BTStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `nbt check FILE.torrent DIR [--json] [--mmap]`: hash-checks downloaded data the way `aria2c --check-integrity` and
/// Transmission's verify are used in scripts. Exit status 0 only when every piece verifies.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Hash-check the data of a torrent in a download folder.",
        discussion: """
            A single-file torrent is looked for as DIR/NAME, a multi-file one under DIR/NAME/. \
            Exit status: 0 when every piece verifies, 1 when some are missing or corrupt, 2 on errors.
            """)

    @Argument(help: "The .torrent file.") var torrentFile: String
    @Argument(help: "The download folder holding the torrent's data.") var directory: String
    @Flag(help: "Print the result as JSON (verified and missing piece indexes).") var json = false
    @Flag(
        help: """
            Hash the files from memory mappings (a run of pieces per core at a time) instead of reading them \
            with pread: less CPU on a warm page cache; the mapped pages count in the resident size. Linux only \
            (elsewhere it reads as without it).
            """)
    var mmap = false

    func run() async throws {
        let torrent: Torrent
        do {
            torrent = try Torrent(contentsOf: torrentFile)
        } catch {
            Self.fail("\(torrentFile): \(error)")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue else {
            Self.fail("\(directory): no such folder")
        }
        let storage = FileStorage(torrent: torrent, folder: directory)
        let store = PieceStore(torrent: torrent, storage: storage)
        let bar = CheckProgressBar(enabled: !json && isatty(STDERR_FILENO) != 0, totalBytes: torrent.layout.totalLength)
        let verified: Bitfield
        // The check's own time (files opened, every piece read and hashed), without process start-up and
        // torrent parsing: the figure comparable with a library's in-process recheck.
        let checkStart = ContinuousClock.now
        do {
            verified = try await store.checkExistingData(mode: mmap ? .mapped : .read) { bar.update($0) }
        } catch {
            bar.finish()
            Self.fail("\(error)")
        }
        let checkDuration = ContinuousClock.now - checkStart
        let checkSeconds =
            Double(checkDuration.components.seconds) + Double(checkDuration.components.attoseconds) / 1e18
        bar.finish()
        let layout = torrent.layout
        var verifiedBytes: Int64 = 0
        for piece in verified.setIndexes {
            for slice in layout.slices(piece: piece) where !layout.files[slice.fileIndex].isPadFile {
                verifiedBytes += Int64(slice.length)
            }
        }
        let incomplete = layout.files.indices.filter { index in
            !layout.files[index].isPadFile && layout.pieces(ofFile: index).contains { !verified[$0] }
        }
        let names = incomplete.map { storage.path(ofFile: $0).joined(separator: "/") }
        let missing = (0..<layout.pieceCount).filter { !verified[$0] }
        if json {
            let object: [String: Any] = [
                "complete": missing.isEmpty, "pieces": layout.pieceCount, "verified": verified.setIndexes,
                "missing": missing, "verifiedBytes": verifiedBytes, "totalBytes": torrent.totalSize,
                "incompleteFiles": names, "checkSeconds": (checkSeconds * 1e6).rounded() / 1e6,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            let percent = torrent.totalSize == 0 ? 100 : Double(verifiedBytes) * 100 / Double(torrent.totalSize)
            print(
                "\(torrent.name.terminalSafe): \(verified.setCount)/\(layout.pieceCount) pieces verified, "
                    + "\(verifiedBytes)/\(torrent.totalSize) bytes (\(String(format: "%.1f", percent))%)")
            if names.isEmpty {
                print("complete")
            } else {
                print("incomplete files:")
                for name in names { print("  \(name.terminalSafe)") }
            }
        }
        if !missing.isEmpty { throw ExitCode(1) }
    }

    /// Prints one line to standard error and exits with status 2.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("nbt check: \(message.terminalSafe)\n".utf8))
        Foundation.exit(2)
    }
}

/// A one-line progress bar on standard error, redrawn at most ten times a second.
private final class CheckProgressBar: @unchecked Sendable {
    private let enabled: Bool
    private let totalBytes: Int64
    private let lock = NSLock()
    private var lastDraw = Date.distantPast
    private let started = Date()

    init(enabled: Bool, totalBytes: Int64) {
        self.enabled = enabled
        self.totalBytes = totalBytes
    }

    func update(_ progress: CheckProgress) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || progress.checked == progress.total else { return }
        lastDraw = now
        let width = 30
        let filled = Int(progress.fraction * Double(width))
        let seconds = max(0.001, now.timeIntervalSince(started))
        let rate = Double(progress.bytes) / seconds / 1_048_576
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line =
            "\r[\(bar)] \(String(format: "%5.1f", progress.fraction * 100))%  \(progress.checked)/\(progress.total) pieces  "
            + "\(Int(rate)) MiB/s"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
