import ArgumentParser
import BTEngine
import BTMetainfo
import BTStorage
import Foundation

/// `nbt download FILE.torrent -o DIR ...`: downloads a torrent, then stops or seeds.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a torrent over TCP.",
        discussion: """
            Shows a live progress bar on a terminal (percent, bar, rates, peers, ETA) and a plain line every 5 \
            seconds otherwise. Ctrl-C stops cleanly and writes resume data (DIR/.NAME.HASH.resume); running the \
            same command again resumes where it stopped. Without --seed or --seed-ratio the command exits once \
            every piece is verified. Exit status: 0 when complete (also when stopped while seeding), 130 when \
            stopped by a signal before completing, 1 on errors.
            """)

    @Argument(help: "The .torrent file.")
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

    func validate() throws {
        if seed && seedRatio != nil { throw TransferDisplay.fail("--seed and --seed-ratio exclude each other") }
        if let seedRatio, !(seedRatio >= 0) { throw TransferDisplay.fail("--seed-ratio must be a number >= 0") }
    }

    func run() async throws {
        TransferDisplay.useJSON(progress.json)
        let torrent = try TransferSession.load(self.torrent)
        var configuration = try network.configuration()
        configuration.sequentialDownload = sequential
        let seedRatio = self.seedRatio
        let seedForever = seed
        var priorities: [FilePriority]?
        if !skipFiles.isEmpty {
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
            torrent: torrent, directory: output, configuration: configuration, peers: network.peers,
            verb: "downloading", recheck: recheck, filePriorities: priorities,
            stop: { status in
                guard TransferSession.isFinished(status) else { return false }
                if seedForever { return false }
                if let seedRatio { return status.ratio >= seedRatio }
                return true
            })
    }
}
