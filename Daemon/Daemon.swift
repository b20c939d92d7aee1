import BTEngine
import Foundation
import Logging

/// The long-running client behind `nbt daemon`: a `BTEngine.Client`, its torrents kept in a config
/// directory (``EngineBackend``), the Transmission RPC and web interface over HTTP (``RPCServer``), and an
/// optional watch directory.
///
/// ```swift
/// var settings = Daemon.Settings(configDir: "/var/lib/nbt", downloadDir: "/srv/downloads")
/// let daemon = try await Daemon.start(settings, client: try await Client(configuration: ClientConfiguration()))
/// await daemon.closeRequested()   // a client sent session-close (or stop it on SIGTERM)
/// await daemon.shutdown()         // saves state, announces `stopped`, writes resume data
/// ```
public final class Daemon: Sendable {
    /// Where the daemon keeps its state and how it serves RPC.
    public struct Settings: Sendable {
        /// The config directory (state, .torrent files, resume data).
        public var configDir: String
        /// Where torrents are downloaded unless told otherwise.
        public var downloadDir: String
        /// A folder whose new .torrent and .magnet files are added.
        public var watchDir: String?
        /// How often the watch directory is scanned.
        public var watchInterval: Duration = .seconds(2)
        /// The RPC server's address (loopback by default).
        public var rpcHost = "127.0.0.1"
        /// The RPC server's port (0: any).
        public var rpcPort = 9091
        /// Authentication, Host whitelist and body size of the RPC.
        public var gate = RPCGate.Configuration()
        /// Connection limits of the RPC server.
        public var limits = RPCServer.Limits()
        /// The web interface's folder (nil: none).
        public var webFolder: WebFolder?
        /// The registry served at `GET /metrics` (nil: no such page); the engine's
        /// `BTEngine.ClientConfiguration.metricsFactory` should be the same object.
        public var metrics: PrometheusMetrics?
        /// The daemon's log.
        public var logger = Logger(label: "nbt.daemon")

        /// Settings with the defaults above.
        public init(configDir: String, downloadDir: String) {
            self.configDir = configDir
            self.downloadDir = downloadDir
        }
    }

    /// The engine.
    public let client: Client
    /// The torrents and their state.
    public let backend: EngineBackend
    /// The HTTP server.
    public let server: RPCServer
    /// The CSRF token of this run.
    public let sessionID: String
    private let watcher: Task<Void, Never>?
    private let closeSignal: AsyncStream<Void>
    private let logger: Logger

    private init(
        client: Client, backend: EngineBackend, server: RPCServer, sessionID: String, watcher: Task<Void, Never>?,
        closeSignal: AsyncStream<Void>, logger: Logger
    ) {
        self.client = client
        self.backend = backend
        self.server = server
        self.sessionID = sessionID
        self.watcher = watcher
        self.closeSignal = closeSignal
        self.logger = logger
    }

    /// Restores the saved torrents into `client`, then serves RPC and watches the watch directory.
    /// - Throws: ``DaemonError`` (`stateFailed`, `bindFailed`).
    public static func start(_ settings: Settings, client: Client) async throws(DaemonError) -> Daemon {
        let logger = settings.logger
        let backend = try EngineBackend(
            client: client, configDir: settings.configDir, downloadDir: settings.downloadDir,
            watchDir: settings.watchDir, logger: logger)
        await backend.restore()
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        await backend.onClose { continuation.yield() }
        let gate = RPCGate(configuration: settings.gate)
        let server = try await RPCServer.start(
            host: settings.rpcHost, port: settings.rpcPort, gate: gate, dispatcher: RPCDispatcher(backend: backend),
            web: settings.webFolder, metrics: settings.metrics, limits: settings.limits, logger: logger)
        var watcher: Task<Void, Never>?
        if let path = settings.watchDir {
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let interval = settings.watchInterval
            watcher = Task {
                var watch = WatchDirectory(path: path)
                while !Task.isCancelled {
                    await watch.addReady(to: backend, logger: logger)
                    try? await Task.sleep(for: interval)
                }
            }
        }
        return Daemon(
            client: client, backend: backend, server: server, sessionID: gate.sessionID, watcher: watcher,
            closeSignal: stream, logger: logger)
    }

    /// Returns when an RPC client sent `session-close`.
    public func closeRequested() async {
        for await _ in closeSignal { return }
    }

    /// Stops cleanly: stops watching and serving, saves the state, and shuts the engine down (announces
    /// `stopped`, writes resume data, closes files).
    public func shutdown() async {
        logger.info("shutting down")
        watcher?.cancel()
        await server.close()
        await backend.saveState()
        await client.shutdown()
        logger.info("stopped")
    }
}
