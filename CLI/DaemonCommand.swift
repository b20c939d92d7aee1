import ArgumentParser
import BTDaemon
import BTEngine
import Foundation
import Logging

/// `nbt daemon --config-dir DIR ...`: the long-running client that Transmission's remotes drive over its RPC
/// protocol (`transmission-remote`, the web interface).
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run a long-lived client driven through the Transmission RPC protocol.",
        discussion: """
            Serves the Transmission RPC at http://RPC-BIND:RPC-PORT/transmission/rpc (loopback by default) and, \
            when a web folder is found or given, Transmission's web interface at /transmission/web/, and the \
            engine's counters in Prometheus text format at /metrics. Torrents, \
            their settings, .torrent files and resume data live in --config-dir; a restart brings every torrent \
            back in its state. A .torrent or .magnet file dropped into --watch-dir is added. SIGTERM or SIGINT (or an RPC \
            session-close) stops cleanly: stopped announces, resume data, state. The daemon always runs in \
            the foreground (--foreground is accepted for Transmission's command line); run it under a service \
            manager to detach it.
            """)

    @Option(help: "Folder of the daemon's state: torrent list, .torrent files, resume data.")
    var configDir: String

    @Option(help: "Address of the RPC server (loopback by default).")
    var rpcBind = "127.0.0.1"

    @Option(help: "Port of the RPC server (0 = any).")
    var rpcPort = 9091

    @Option(help: "Where torrents are downloaded unless the RPC says otherwise (default: CONFIG-DIR/downloads).")
    var downloadDir: String?

    @Option(help: "Add .torrent (and .magnet) files that appear in this folder.")
    var watchDir: String?

    @Flag(help: "Stay in the foreground (always the case; accepted for compatibility).")
    var foreground = false

    @Option(help: "User name required by the RPC (Basic authentication; needs --rpc-password).")
    var rpcUsername: String?

    @Option(help: "Password required by the RPC (needs --rpc-username).")
    var rpcPassword: String?

    @Option(
        name: .customLong("rpc-host-whitelist"),
        help: "A host name allowed in the RPC's Host header besides localhost and IP addresses; repeatable.")
    var rpcHostWhitelist: [String] = []

    @Option(help: "Folder served at /transmission/web/ (default: Transmission's web interface when installed).")
    var webDir: String?

    @OptionGroup var network: NetworkOptions

    func validate() throws {
        if (rpcUsername == nil) != (rpcPassword == nil) {
            throw TransferDisplay.fail("--rpc-username and --rpc-password go together")
        }
        guard (0...65535).contains(rpcPort) else { throw TransferDisplay.fail("--rpc-port takes 0...65535") }
        if let webDir, WebFolder(path: webDir) == nil {
            throw TransferDisplay.fail("--web-dir \(webDir) is not a folder")
        }
    }

    func run() async throws {
        let absolute = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.path }
        var settings = Daemon.Settings(
            configDir: absolute(configDir), downloadDir: absolute(downloadDir ?? configDir + "/downloads"))
        settings.watchDir = watchDir.map(absolute)
        settings.rpcHost = rpcBind
        settings.rpcPort = rpcPort
        if let rpcUsername, let rpcPassword { settings.gate.credentials = (rpcUsername, rpcPassword) }
        settings.gate.allowedHosts = Set(rpcHostWhitelist.map { $0.lowercased() })
        settings.webFolder = webDir.flatMap(WebFolder.init(path:)) ?? WebFolder.installed()
        var logger = Logger(label: "nbt.daemon", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = try network.logLevel.map(NetworkOptions.level) ?? .info
        settings.logger = logger
        var configuration = try network.configuration()
        let metrics = PrometheusMetrics()
        configuration.metricsFactory = metrics
        settings.metrics = metrics
        if network.logLevel == nil {
            var engineLogger = Logger(label: "nbt.engine", factory: { StreamLogHandler.standardError(label: $0) })
            engineLogger.logLevel = .notice
            configuration.logger = engineLogger
        }
        let stop = StopSignal()
        let client: Client
        do {
            client = try await Client(configuration: configuration)
        } catch {
            throw TransferDisplay.fail("cannot start the client: \(error)")
        }
        let daemon: Daemon
        do {
            daemon = try await Daemon.start(settings, client: client)
        } catch {
            await client.shutdown()
            throw TransferDisplay.fail("\(error)")
        }
        Self.say(
            "nbt daemon: RPC on http://\(rpcBind):\(daemon.server.port)/transmission/rpc, peers on port \(client.port)")
        if let web = settings.webFolder { Self.say("nbt daemon: web interface from \(web.root)") }
        let closed = SharedFlag()
        let watcher = Task {
            await daemon.closeRequested()
            closed.set(true)
        }
        while !stop.isRaised && !closed.value {
            try? await Task.sleep(for: .milliseconds(200))
        }
        watcher.cancel()
        await daemon.shutdown()
        Self.say("nbt daemon: stopped")
    }

    /// Prints a line on stdout at once (stdout is a file under a service manager or a test, where `print`
    /// would hold it in a buffer).
    private static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
