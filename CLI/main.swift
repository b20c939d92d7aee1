import ArgumentParser

// `main.swift` is top-level code, so the entry point is called here rather than marked `@main` (which SwiftPM
// only accepts in a multi-file executable when the file is not named main.swift).
struct NBT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nbt", abstract: "NetBitTorrent command-line client.", subcommands: [ScrapeCommand.self])
}

extension NBT {
    /// In an async context `main()` resolves to `AsyncParsableCommand.main()`; plain top-level code would pick
    /// the synchronous `ParsableCommand.main()`, which cannot run async subcommands.
    static func runAsync() async { await main() }
}

await NBT.runAsync()
