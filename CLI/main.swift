import ArgumentParser

// `main.swift` is top-level code, so the entry point is called here rather than marked `@main` (which SwiftPM
// only accepts in a multi-file executable when the file is not named main.swift).
struct NBT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nbt", abstract: "NetBitTorrent command-line client.", subcommands: [ScrapeCommand.self])
}

await NBT.main()
