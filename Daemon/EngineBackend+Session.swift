import BTEngine
import Foundation

/// The session side of an ``EngineBackend``: settings, statistics, the blocklist, free space, closing.
extension EngineBackend {
    /// The session's settings.
    public func session() async -> SessionSettings {
        let configuration = client.configuration
        let encryption = await client.encryption()
        var settings = SessionSettings(
            downloadDir: state.downloadDir, peerPort: client.port, configDir: configDir,
            peerLimitPerTorrent: state.peerLimitPerTorrent ?? configuration.maximumPeersPerTorrent,
            peerLimitGlobal: await client.maximumConnections(),
            speedLimitDown: state.speedLimitDown, speedLimitDownEnabled: state.speedLimitDownEnabled,
            speedLimitUp: state.speedLimitUp, speedLimitUpEnabled: state.speedLimitUpEnabled,
            encryption: encryption == .required ? "required" : encryption == .preferred ? "preferred" : "tolerated",
            dhtEnabled: configuration.dht != nil, pexEnabled: true,
            utpEnabled: !(configuration.transport is TCPTransport), watchDir: watchDir,
            startAddedTorrents: state.startAddedTorrents)
        settings.blocklistURL = state.blocklistURL
        settings.blocklistEnabled = state.blocklistEnabled
        settings.blocklistSize = blocklistRanges.count
        settings.altSpeedDown = state.altSpeedDown
        settings.altSpeedUp = state.altSpeedUp
        settings.altSpeedEnabled = state.altSpeedEnabled
        return settings
    }

    // MARK: Blocklist

    var blocklistPath: String { configDir + "/blocklist.txt" }
    /// Most bytes of a blocklist (Transmission's lists are a few MiB of text).
    static let maximumBlocklistBytes = 64 << 20

    /// Reads the blocklist from the session's `blocklist-url` (an http(s) URL, fetched under the tracker
    /// address policy, or a file), keeps it in the config directory and applies it to the engine's IP filter
    /// when the blocklist is enabled. Returns its number of ranges.
    public func updateBlocklist() async throws(DaemonError) -> Int {
        let source = state.blocklistURL
        guard !source.isEmpty else { throw DaemonError(.invalidArgument, "no blocklist-url is set") }
        let bytes: [UInt8]
        if source.lowercased().hasPrefix("http://") || source.lowercased().hasPrefix("https://") {
            var fetcher = TorrentURLFetcher(addressPolicy: client.configuration.trackerAddressPolicy)
            fetcher.maximumBytes = Self.maximumBlocklistBytes
            bytes = try await fetcher.fetch(source)
        } else {
            let path = source.lowercased().hasPrefix("file://") ? String(source.dropFirst(7)) : source
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
            guard let size, size <= Self.maximumBlocklistBytes, let data = FileManager.default.contents(atPath: path)
            else { throw DaemonError(.invalidArgument, "cannot read the blocklist \(path) (missing or over 64 MiB)") }
            bytes = Array(data)
        }
        let ranges: [IPRange]
        do {
            ranges = try IPFilter.parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            // Not the parser's reason: it quotes the bad line, and the source may be any file the daemon can read.
            logger.warning("blocklist \(source): \(error)")
            throw DaemonError(.invalidArgument, "the blocklist is not a list of address ranges")
        }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: blocklistPath), options: .atomic)
        } catch {
            throw DaemonError(.stateFailed, "cannot keep the blocklist in \(blocklistPath): \(error)")
        }
        blocklistRanges = ranges
        await applyBlocklist()
        logger.info("blocklist: \(ranges.count) ranges from \(source)")
        return ranges.count
    }

    /// The engine's IP filter: the client's own (command line) plus the blocklist when it is enabled.
    func applyBlocklist() async {
        var filter = client.configuration.ipFilter
        if state.blocklistEnabled { filter.block(blocklistRanges) }
        let closed = await client.setIPFilter(filter)
        if closed > 0 { logger.info("blocklist: \(closed) connections closed") }
    }

    /// Changes the session's download directory, whether added torrents start, its speed limits and its
    /// blocklist.
    public func setSession(_ changes: SessionChanges) async throws(DaemonError) {
        if let url = changes.blocklistURL { state.blocklistURL = url }
        if let enabled = changes.blocklistEnabled, enabled != state.blocklistEnabled {
            state.blocklistEnabled = enabled
            await applyBlocklist()
        }
        if let directory = changes.downloadDir { state.downloadDir = directory }
        if let start = changes.startAddedTorrents { state.startAddedTorrents = start }
        let before = (state.effectiveDownloadLimit, state.effectiveUploadLimit)
        if let value = changes.speedLimitDown { state.speedLimitDown = value }
        if let value = changes.speedLimitDownEnabled { state.speedLimitDownEnabled = value }
        if let value = changes.speedLimitUp { state.speedLimitUp = value }
        if let value = changes.speedLimitUpEnabled { state.speedLimitUpEnabled = value }
        if let value = changes.altSpeedDown { state.altSpeedDown = value }
        if let value = changes.altSpeedUp { state.altSpeedUp = value }
        if let value = changes.altSpeedEnabled { state.altSpeedEnabled = value }
        if let maximum = changes.peerLimitPerTorrent { state.peerLimitPerTorrent = maximum }
        if let maximum = changes.peerLimitGlobal {
            do { try await client.setMaximumConnections(maximum) } catch {
                throw DaemonError(.engineFailed, "\(error)")
            }
            state.peerLimitGlobal = maximum
        }
        if let encryption = changes.encryption {
            try await applyEncryption(encryption)
            state.encryption = encryption
        }
        if before != (state.effectiveDownloadLimit, state.effectiveUploadLimit) { try await applySessionLimits() }
        try recordSession()
    }

    /// Gives the engine the encryption policy named in Transmission's words (`tolerated`: plaintext).
    func applyEncryption(_ name: String) async throws(DaemonError) {
        do {
            switch name {
            case "required": try await client.setEncryption(.required)
            case "preferred": try await client.setEncryption(.preferred)
            case "tolerated": try await client.setEncryption(.none)
            default: throw DaemonError(.invalidArgument, "encryption must be required, preferred or tolerated")
            }
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError(.engineFailed, "\(error)")
        }
    }

    /// Totals of the session.
    public func sessionStatistics() async -> SessionStatistics {
        let statuses = await client.statuses()
        let total = SessionStatus(summing: statuses)
        let paused = statuses.filter { $0.state == .paused || $0.state == .failed }.count
        return SessionStatistics(
            torrentCount: statuses.count, activeTorrentCount: statuses.count - paused, pausedTorrentCount: paused,
            downloadSpeed: total.downloadRate, uploadSpeed: total.uploadRate, downloadedBytes: total.downloadedBytes,
            uploadedBytes: total.uploadedBytes, filesAdded: filesAdded,
            secondsActive: Int64(Date().timeIntervalSince(startedAt)))
    }

    /// Free and total bytes of the file system holding `path`.
    public func freeSpace(at path: String) async throws(DaemonError) -> (free: Int64, total: Int64) {
        do {
            let attributes = try FileManager.default.attributesOfFileSystem(forPath: path)
            return (Self.int64(attributes[.systemFreeSize]), Self.int64(attributes[.systemSize]))
        } catch {
            throw DaemonError(.invalidArgument, "\(path): No such file or directory")
        }
    }

    private static func int64(_ value: Any?) -> Int64 {
        switch value {
        case let number as NSNumber: return number.int64Value
        case let number as Int64: return number
        case let number as UInt64: return Int64(clamping: number)
        case let number as Int: return Int64(number)
        default: return 0
        }
    }

    /// False: the daemon has no outside prober to ask, and a loopback-only run is not reachable from outside.
    public func portTest() async -> Bool { false }

    /// Runs the `session-close` handlers.
    public func close() async {
        logger.info("session-close received")
        for handler in closeHandlers { handler() }
    }
}
