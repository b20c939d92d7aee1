import ArgumentParser
import BTEngine
import BTMetainfo
import BTStorage
import Foundation

/// `nbt download FILE.torrent|MAGNET -o DIR ...`: downloads a torrent (from a magnet link: its metadata
/// first), then stops or seeds.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a torrent over TCP.",
        discussion: """
            A magnet link's metadata is fetched from peers first (x.pe, tr trackers, the DHT, PEX); \
            --save-torrent writes the complete .torrent once it is known. Shows a live progress bar on a terminal (percent, bar, rates, peers, ETA) and a plain line every 5 \
            seconds otherwise. Ctrl-C stops cleanly and writes resume data (DIR/.NAME.HASH.resume); running the \
            same command again resumes where it stopped. Without --seed or --seed-ratio the command exits once \
            every piece is verified. Exit status: 0 when complete (also when stopped while seeding), 130 when \
            stopped by a signal before completing, 1 on errors.
            """)

    @Argument(help: "The .torrent file, or a magnet link (magnet:?xt=urn:btih:...).")
    var torrent: String

    @Option(name: [.short, .customLong("output")], help: "Download folder.")
    var output: String

    @OptionGroup var network: NetworkOptions

    @OptionGroup var progress: ProgressOptions

    @Flag(help: "Keep seeding after the download completes, until stopped.")
    var seed = false

    @Option(help: "Keep seeding until uploaded/downloaded reaches this ratio.")
    var seedRatio: Double?

    @Flag(help: "Download pieces in order (for streaming) instead of rarest first.")
    var sequential = false

    @Option(
        name: .customLong("skip-file"),
        help: "Do not download file N (0-based, in the order `nbt info` lists the files); repeatable.")
    var skipFiles: [Int] = []

    @Flag(help: "Hash-check every piece first, even when resume data says the data is unchanged.")
    var recheck = false

    @Option(
        name: .customLong("save-torrent"),
        help: "Write the complete .torrent to FILE once the metadata is known (for a magnet link).")
    var saveTorrent: String?

    func validate() throws {
        if seed && seedRatio != nil { throw TransferDisplay.fail("--seed and --seed-ratio exclude each other") }
        if let seedRatio, !(seedRatio >= 0) { throw TransferDisplay.fail("--seed-ratio must be a number >= 0") }
    }

    func run() async throws {
        TransferDisplay.useJSON(progress.json)
        let source = try TransferSession.loadSource(self.torrent)
        var configuration = try network.configuration()
        configuration.sequentialDownload = sequential
        let seedRatio = self.seedRatio
        let seedForever = seed
        var priorities: [FilePriority]?
        if !skipFiles.isEmpty {
            guard case .torrent(let torrent) = source else {
                throw TransferDisplay.fail("--skip-file needs a .torrent file; a magnet link selects files with so=")
            }
            let files = torrent.layout.files
            let visible = files.indices.filter { !files[$0].isPadFile }
            var chosen = [FilePriority](repeating: .normal, count: files.count)
            for index in skipFiles {
                guard visible.indices.contains(index) else {
                    throw TransferDisplay.fail("--skip-file \(index): the torrent has \(visible.count) files")
                }
                chosen[visible[index]] = .skip
            }
            priorities = chosen
        }
        try await TransferSession.run(
            source: source, directory: output, configuration: configuration, peers: network.peers,
            verb: "downloading", recheck: recheck, filePriorities: priorities, saveTorrent: saveTorrent,
            stop: { status in
                guard TransferSession.isFinished(status) else { return false }
                if seedForever { return false }
                if let seedRatio { return status.ratio >= seedRatio }
                return true
            })
    }
}
