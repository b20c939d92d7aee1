import ArgumentParser
import BTMetainfo
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `nbt create PATH -o OUT.torrent ...`: makes a v1, v2 or hybrid torrent from a file or a folder.
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a .torrent file from a file or a folder.",
        discussion: """
            The default format is hybrid (v1 + v2), as libtorrent 2.0 makes. Files are added in sorted path \
            order; symbolic links to files are followed, links to folders and dangling links are errors. \
            The piece size is chosen from the total size the way libtorrent does unless --piece-size is given.
            """)

    /// Torrent format flags.
    enum Format: String, EnumerableFlag {
        case v1, v2, hybrid
        static func help(for value: Format) -> ArgumentHelp? {
            switch value {
            case .v1: "BitTorrent v1 only (BEP 3)."
            case .v2: "BitTorrent v2 only (BEP 52)."
            case .hybrid: "Both v1 and v2 (default)."
            }
        }
    }

    @Argument(help: "The file or folder to share.")
    var path: String

    @Option(name: .shortAndLong, help: "Where to write the torrent (default: NAME.torrent).")
    var output: String?

    @Option(
        name: .customLong("tracker"),
        help: "Tracker URL; repeat for more tiers, separate URLs of one tier with commas.")
    var trackers: [String] = []

    @Option(name: .customLong("web-seed"), help: "Web seed URL (BEP 19); repeatable.")
    var webSeeds: [String] = []

    @Option(help: "Piece size in bytes, or with a K or M suffix (16K, 4M). Default: automatic.")
    var pieceSize: String?

    @Flag(help: "Torrent format.")
    var format: Format = .hybrid

    @Flag(help: "Mark the torrent private (BEP 27): peers only from its trackers.")
    var `private` = false

    @Option(help: "Comment stored in the torrent.")
    var comment: String?

    @Option(help: "`source` tag in the info dictionary (private trackers use it).")
    var source: String?

    @Option(help: "`created by` value.")
    var createdBy: String = "NetBitTorrent"

    @Flag(help: "Leave out the creation date (reproducible output).")
    var noDate = false

    static func parseSize(_ text: String) -> Int? {
        let upper = text.uppercased().replacingOccurrences(of: "IB", with: "").replacingOccurrences(of: "B", with: "")
        let multiplier: Int
        var digits = Substring(upper)
        switch upper.last {
        case "K": multiplier = 1 << 10
        case "M": multiplier = 1 << 20
        default: multiplier = 1
        }
        if multiplier != 1 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.count <= 12, let value = Int(digits), value > 0 else { return nil }
        return value * multiplier
    }

    func run() throws {
        var creator = TorrentCreator(path: path)
        creator.version = TorrentVersion(rawValue: format.rawValue)!
        if let pieceSize {
            guard let bytes = Self.parseSize(pieceSize) else {
                throw MetainfoReport.fail("--piece-size \(pieceSize) is not a size (try 16K, 256K or 4M)")
            }
            creator.pieceLength = bytes
        }
        creator.trackers = trackers.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        creator.webSeeds = webSeeds
        creator.isPrivate = `private`
        creator.comment = comment
        creator.source = source
        creator.createdBy = createdBy
        if noDate { creator.creationDate = nil }

        let bar = isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil
        var progress: (@Sendable (Int64, Int64) -> Void)?
        if let bar { progress = { bar.update($0, $1) } }
        let torrent: Torrent
        do throws(MetainfoError) {
            torrent = try creator.create(progress: progress)
        } catch {
            bar?.finish()
            throw MetainfoReport.fail(error.reason)
        }
        bar?.finish()
        let destination = output ?? torrent.name + ".torrent"
        do {
            try Data(torrent.encoded()).write(to: URL(fileURLWithPath: destination))
        } catch {
            throw MetainfoReport.fail("cannot write \(destination): \(error.localizedDescription)")
        }
        print(
            "Created \(destination) (\(torrent.version.rawValue), \(torrent.pieceCount) pieces of \(torrent.pieceLength) bytes)"
        )
        if let v1 = torrent.infoHashes.v1 { print("Info-hash v1: \(InfoHashes.hex(v1))") }
        if let v2 = torrent.infoHashes.v2 { print("Info-hash v2: \(InfoHashes.hex(v2))") }
    }
}

/// A one-line progress bar on stderr, redrawn when the percentage changes.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private var shown = -1

    func update(_ done: Int64, _ total: Int64) {
        let percent = total > 0 ? Int(done * 100 / total) : 100
        lock.lock()
        defer { lock.unlock() }
        guard percent > shown else { return }
        shown = percent
        let filled = percent * 30 / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: 30 - filled)
        FileHandle.standardError.write(Data("\rHashing [\(bar)] \(percent)%".utf8))
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if shown >= 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
