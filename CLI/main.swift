import ArgumentParser

/// The `nbt` command.
struct NBT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nbt", abstract: "NetBitTorrent command-line client.",
        subcommands: [InfoCommand.self, CreateCommand.self, ScrapeCommand.self])
}

// Top-level code rather than `@main` (a target with several files treats `main.swift` as its entry point).
extension NBT {
    /// In an async context `main()` resolves to `AsyncParsableCommand.main()`; from top-level code the call
    /// (and a hand-written `parseAsRoot` + `run()`) picks the synchronous `run()`, which only prints help for
    /// an async subcommand.
    static func runAsync() async { await main() }
}

await NBT.runAsync()
