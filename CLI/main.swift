import ArgumentParser

/// The `nbt` command.
struct NBT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nbt", abstract: "NetBitTorrent command-line client.",
        subcommands: [
            InfoCommand.self, CreateCommand.self, CheckCommand.self, StorageSoakCommand.self,
            StorageWriteBenchCommand.self,
        ])
}

// Top-level code rather than `@main` (a target with several files treats `main.swift` as its entry
// point); the body of `AsyncParsableCommand.main()`, which a top-level call would not select.
do {
    var command = try NBT.parseAsRoot()
    if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
    } else {
        try command.run()
    }
} catch {
    NBT.exit(withError: error)
}
