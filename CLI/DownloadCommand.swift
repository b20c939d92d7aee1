import ArgumentParser
import BTEngine
import BTMetainfo
import BTStorage
import Dispatch
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `nbt download FILE.torrent -o DIR ...`: downloads a torrent, then stops or seeds.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a torrent over TCP.",
        discussion: """
            Shows a live progress line on a terminal (percent, rates, peers, ETA) and a plain line every few \
            seconds otherwise. Ctrl-C stops cleanly and writes resume data (DIR/.NAME.HASH.resume); running the \
            same command again resumes where it stopped. Without --seed or --seed-ratio the command exits once \
            every piece is verified.
            """)

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Option(name: [.short, .customLong("output")], help: "Download folder.")
    var output: String

    @OptionGroup var network: NetworkOptions

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

/// Network options shared by `nbt download` and `nbt seed` (`--bind`/`--port` are the seed's
/// LocalHost/LocalPort).
struct NetworkOptions: ParsableArguments {
    @Option(help: "Local address to listen on.")
    var bind = "0.0.0.0"

    @Option(help: "Port to listen on (0 = any), or a range A-B tried in order.")
    var port = "0"

    @Option(name: .customLong("peer"), help: "Connect to this peer (HOST:PORT); repeatable.")
    var peers: [String] = []

    @Option(help: "Most peers per torrent.")
    var maxPeers: Int?

    @Option(help: "Download limit in bytes per second (K, M suffixes: 500K, 2M).")
    var downLimit: String?

    @Option(help: "Upload limit in bytes per second (K, M suffixes: 500K, 2M).")
    var upLimit: String?

    @Option(help: "Write the engine's log to stderr from this level: trace, debug, info, notice, warning, error.")
    var logLevel: String?

    func validate() throws {
        _ = try ports()
        for peer in peers { _ = try Self.endpoint(peer) }
        if let maxPeers, maxPeers < 1 { throw TransferDisplay.fail("--max-peers must be at least 1") }
        if let downLimit { _ = try Self.rate(downLimit, option: "--down-limit") }
        if let upLimit { _ = try Self.rate(upLimit, option: "--up-limit") }
        if let logLevel { _ = try Self.level(logLevel) }
    }

    static func level(_ text: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw TransferDisplay.fail(
                "--log-level takes trace, debug, info, notice, warning, error or critical, not '\(text)'")
        }
        return level
    }

    func ports() throws -> [Int] {
        let parts = port.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count <= 2, let low = Int(parts[0]), let high = Int(parts.last!), low >= 0, high <= 65535,
            low <= high
        else { throw TransferDisplay.fail("--port takes N or A-B with ports 0...65535, not '\(port)'") }
        return Array(low...high)
    }

    func configuration() throws -> ClientConfiguration {
        var configuration = ClientConfiguration(host: bind, ports: try ports())
        if let maxPeers { configuration.maximumPeersPerTorrent = maxPeers }
        if let downLimit {
            configuration.downloadLimit = .bytesPerSecond(try Self.rate(downLimit, option: "--down-limit"))
        }
        if let upLimit { configuration.uploadLimit = .bytesPerSecond(try Self.rate(upLimit, option: "--up-limit")) }
        if let logLevel {
            var logger = Logger(label: "nbt.engine", factory: { label in StreamLogHandler.standardError(label: label) })
            logger.logLevel = try Self.level(logLevel)
            configuration.logger = logger
        }
        configuration.reportsPacketEvents = false
        return configuration
    }

    static func endpoint(_ text: String) throws -> (host: String, port: Int) {
        var host = text
        var portText = ""
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = String(text[close...].dropFirst(2))
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        guard !host.isEmpty, let port = Int(portText), port > 0, port < 65536 else {
            throw TransferDisplay.fail("--peer takes HOST:PORT, not '\(text)'")
        }
        return (host, port)
    }

    static func rate(_ text: String, option: String) throws -> Int {
        var digits = text.uppercased()
        var scale = 1.0
        if digits.hasSuffix("K") || digits.hasSuffix("M") || digits.hasSuffix("G") {
            scale = digits.hasSuffix("K") ? 1024 : digits.hasSuffix("M") ? 1024 * 1024 : 1024 * 1024 * 1024
            digits.removeLast()
        }
        guard let value = Double(digits), value > 0, (value * scale) < 1e15 else {
            throw TransferDisplay.fail("\(option) takes a positive rate in bytes per second (500K, 2M), not '\(text)'")
        }
        return max(1, Int(value * scale))
    }
}

/// SIGINT and SIGTERM, turned into a flag the progress loop polls.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    private var sources: [any DispatchSourceSignal] = []

    /// Installs handlers for SIGINT and SIGTERM.
    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.raise() }
            source.resume()
            sources.append(source)
        }
    }

    private func raise() { lock.withLock { raised = true } }

    /// Whether a signal arrived.
    var isRaised: Bool { lock.withLock { raised } }
}

/// Human formatting and the progress display shared by download, seed and demo.
enum TransferDisplay {
    static let isTerminal = isatty(STDOUT_FILENO) == 1

    /// Writes a line to standard output at once (unbuffered, so lines and the live progress stay in order).
    static func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = value
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    static func duration(_ duration: Duration?) -> String {
        guard let duration else { return "--:--" }
        let seconds = Int(duration.components.seconds)
        if seconds >= 3600 { return String(format: "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60) }
        return String(format: "%d:%02d", seconds / 60, seconds % 60)
    }

    static func line(_ status: TorrentStatus) -> String {
        let percent = String(format: "%5.1f%%", status.progress * 100)
        var text =
            "\(status.handle.name) \(percent) \(status.state.rawValue)  down \(bytes(status.downloadRate))/s"
            + "  up \(bytes(status.uploadRate))/s  peers \(status.peers) (\(status.seeds) seeds)"
        if status.isComplete {
            text += String(format: "  ratio %.2f", status.ratio)
        } else {
            text += "  ETA \(duration(status.eta))"
        }
        return text
    }

    /// Shows `status`: rewrites the line on a terminal; otherwise prints a plain line when `plain` is set.
    static func show(_ status: TorrentStatus, plain: Bool) {
        if isTerminal {
            FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + line(status)).utf8))
        } else if plain {
            TransferDisplay.say(line(status))
        }
    }

    /// Ends the live line on a terminal.
    static func endLine() {
        if isTerminal { FileHandle.standardOutput.write(Data("\n".utf8)) }
    }

    /// Prints `nbt: error: MESSAGE` on stderr and returns the exit code to throw.
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("nbt: error: \(message)\n".utf8))
        return ExitCode.failure
    }
}

/// The run loop of `nbt download` and `nbt seed`: one client, one torrent, progress until `stop` says so
/// or a signal arrives, then a clean shutdown.
enum TransferSession {
    static func load(_ path: String) throws -> Torrent {
        do {
            return try Torrent(contentsOf: path)
        } catch {
            throw TransferDisplay.fail("\(path): \(error.reason)")
        }
    }

    static func resumePath(for torrent: Torrent, in directory: String) -> String {
        let safeName = torrent.name.replacingOccurrences(of: "/", with: "_")
        return (directory as NSString).appendingPathComponent(".\(safeName).\(torrent.infoHashes).resume")
    }

    /// Whether every wanted piece is verified (all of them unless files are skipped).
    static func isFinished(_ status: TorrentStatus) -> Bool {
        status.isComplete || status.state == .seeding
    }

    static func run(
        torrent: Torrent, directory: String, configuration: ClientConfiguration, peers: [String], verb: String,
        requireComplete: Bool = false, recheck: Bool = false, filePriorities: [FilePriority]? = nil,
        stop: @escaping (TorrentStatus) -> Bool
    ) async throws {
        let signals = StopSignal()
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TransferDisplay.fail("cannot create \(directory): \(error.localizedDescription)")
        }
        let client: Client
        do {
            client = try await Client(configuration: configuration)
        } catch {
            throw TransferDisplay.fail(error.reason)
        }
        let handle: TorrentHandle
        do {
            handle = try await client.addTorrent(
                torrent, downloadDirectory: directory, resume: resumePath(for: torrent, in: directory),
                filePriorities: filePriorities)
            if recheck { try await client.recheck(handle) }
        } catch {
            await client.shutdown()
            throw TransferDisplay.fail(error.reason)
        }
        let start = ContinuousClock.now
        let initial = await client.status(of: handle)
        if requireComplete, let initial, !initial.isComplete {
            TransferDisplay.say(
                "nbt: warning: only \(initial.verifiedPieces) of \(initial.pieceCount) pieces verified in \(directory); "
                    + "seeding those and downloading the rest")
        }
        TransferDisplay.say(
            "\(verb) \(torrent.name) (\(TransferDisplay.bytes(Double(torrent.totalSize)))) in \(directory), "
                + "listening on \(client.host):\(client.port)")
        for peer in peers {
            let endpoint = try NetworkOptions.endpoint(peer)
            try? await client.connect(host: endpoint.host, port: endpoint.port, for: handle)
        }
        var wasComplete = initial.map(isFinished) ?? false
        var lastPlain = ContinuousClock.now - .seconds(60)
        var interrupted = false
        while true {
            guard let status = await client.status(of: handle) else { break }
            let now = ContinuousClock.now
            let plain = now - lastPlain >= .seconds(5)
            if plain { lastPlain = now }
            if status.state == .failed {
                TransferDisplay.endLine()
                await client.shutdown()
                throw TransferDisplay.fail("\(torrent.name): \(status.error ?? "storage failed")")
            }
            if isFinished(status) && !wasComplete {
                wasComplete = true
                TransferDisplay.show(status, plain: true)
                TransferDisplay.endLine()
                let elapsed = ContinuousClock.now - start
                let seconds = max(
                    Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, 0.001)
                TransferDisplay.say(
                    "\(torrent.name): complete, \(TransferDisplay.bytes(Double(status.downloadedBytes))) in "
                        + String(format: "%.1f", seconds)
                        + " s (\(TransferDisplay.bytes(Double(status.downloadedBytes) / seconds))/s)")
            } else {
                TransferDisplay.show(status, plain: plain)
            }
            if stop(status) { break }
            if signals.isRaised {
                interrupted = !isFinished(status)
                break
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
        TransferDisplay.endLine()
        let final = await client.status(of: handle)
        await client.shutdown()
        if let final {
            TransferDisplay.say(
                "stopped: \(final.verifiedPieces)/\(final.pieceCount) pieces, downloaded "
                    + "\(TransferDisplay.bytes(Double(final.downloadedBytes))), uploaded "
                    + "\(TransferDisplay.bytes(Double(final.uploadedBytes))); resume data written")
        }
        if interrupted { throw ExitCode(130) }
    }
}
