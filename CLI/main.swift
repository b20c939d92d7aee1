import ArgumentParser

// `main.swift` is top-level code, so the entry point is called here rather than marked `@main` (which SwiftPM
// only accepts in a multi-file executable when the file is not named main.swift).
struct NBT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nbt", abstract: "NetBitTorrent command-line client.",
        subcommands: [
            InfoCommand.self,
            CreateCommand.self,
            CheckCommand.self,
            ScrapeCommand.self,
            DownloadCommand.self,
            SeedCommand.self,
            DemoCommand.self,
            StorageSoakCommand.self,
            StorageWriteBenchCommand.self,
            SHA1BenchCommand.self,
            SigbusProbeCommand.self,
            DHTCommand.self,
            DaemonCommand.self,
            SimulateCommand.self,
        ])
}

/// Runs the command line; inside an `async` function `NBT.main()` resolves to the asynchronous entry point
/// (at top level it would pick the synchronous one, which refuses asynchronous subcommands).
func runCommandLine() async {
    await NBT.main()
}

await runCommandLine()
