import ArgumentParser

@main
struct NBT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nbt", abstract: "NetBitTorrent command-line client.",
        subcommands: [
            InfoCommand.self,
            CreateCommand.self,
            ScrapeCommand.self,
            DownloadCommand.self,
            SeedCommand.self,
            DemoCommand.self,
            StorageSoakCommand.self,
            StorageWriteBenchCommand.self,
        ])
}
