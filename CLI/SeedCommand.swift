import ArgumentParser
import BTEngine

/// `nbt seed FILE.torrent DIR ...`: hash-checks existing data and seeds it until stopped.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Seed a torrent's existing data over TCP.",
        discussion: """
            DIR is the folder that holds the torrent's data (a multi-file torrent's folder NAME is inside it). \
            The data is hash-checked first (resume data makes later starts fast); missing pieces are \
            downloaded. Seeds to peers that connect, to --peer addresses and to peers the trackers report, \
            until Ctrl-C, which writes resume data. Exit status: 0 when stopped with every piece verified, 130 \
            when stopped before (also during the hash check), 1 on errors.
            """)

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Argument(help: "Folder holding the data.")
    var directory: String

    @OptionGroup var network: NetworkOptions

    @OptionGroup var progress: ProgressOptions

    @Flag(help: "Hash-check every piece first, even when resume data says the data is unchanged.")
    var recheck = false

    @Flag(
        help: ArgumentHelp(
            "Super-seed (BEP 16): show peers no pieces and offer each one or two at a time.",
            discussion:
                "The next piece goes to a peer once its last one is seen at another peer, so peers spread the pieces and the seed uploads little more than one copy. For a first seed with little upload; takes effect once every piece is verified."
        ))
    var superSeed = false

    func run() async throws {
        TransferDisplay.useJSON(progress.json)
        let torrent = try TransferSession.load(self.torrent)
        var configuration = try network.configuration()
        configuration.defaultTorrentLimits.superSeeding = superSeed
        try await TransferSession.run(
            torrent: torrent, directory: directory, configuration: configuration, peers: network.peers,
            verb: "seeding", requireComplete: true, recheck: recheck, stop: { _ in false })
    }
}
