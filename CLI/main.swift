import ArgumentParser

@main
struct NBT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nbt", abstract: "NetBitTorrent command-line client.",
        subcommands: [
            ScrapeCommand.self,
            StorageSoakCommand.self,
            StorageWriteBenchCommand.self,
        ])
}
