import ArgumentParser

/// The `nbt` command.
struct NBT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nbt", abstract: "NetBitTorrent command-line client.",
        subcommands: [
            InfoCommand.self, CreateCommand.self, CheckCommand.self, ScrapeCommand.self, StorageSoakCommand.self,
            StorageWriteBenchCommand.self,
        ])
}

// `main.swift` is top-level code, so the entry point is called here rather than marked `@main` (SwiftPM
// accepts `@main` in a multi-file executable only when the file is not named main.swift). Inside an `async`
// function `NBT.main()` resolves to `AsyncParsableCommand.main()`, which runs async subcommands; at top
// level it would pick the synchronous entry point, and casting to `AsyncParsableCommand` and calling `run()`
// also selects the synchronous requirement (which only prints help).
func runCommandLine() async {
    await NBT.main()
}

await runCommandLine()
