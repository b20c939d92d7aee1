import BTMetainfo
import Foundation
import Logging
import MetricsTestKit
import Testing

@testable import BTEngine

/// Session-wide totals (``Client/sessionStatus()``), the swift-metrics counters and the swift-log messages
/// follow a transfer.
@Suite(.serialized) struct ClientReportsTotalsAndMetrics {
    @Test func sessionTotalsMetricsAndLogsFollowATransfer() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("totals-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("totals-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let other = try ClientFixtures.makeSingleFileTorrent(
            in: seedFolder, name: "other.bin", length: 300_000, pieceLength: 32 * 1024)
        let seedMetrics = TestMetrics()
        let leechMetrics = TestMetrics()
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.metricsFactory = seedMetrics
        let seeder = try await Client(configuration: configuration)
        configuration.metricsFactory = leechMetrics
        let logs = CapturedLogs()
        configuration.logger = Logger(label: "nbt.engine", factory: { _ in CapturedLogs.Handler(logs: logs) })
        configuration.logger.logLevel = .debug
        let leecher = try await Client(configuration: configuration)

        try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        try await seeder.addTorrent(other, downloadDirectory: seedFolder)
        let seedTotals = await seeder.sessionStatus()
        #expect(seedTotals.torrentCount == 2 && seedTotals.count(.seeding) == 2)
        #expect(seedTotals.totalBytes == torrent.totalSize + other.totalSize)
        #expect(seedTotals.verifiedBytes == seedTotals.totalBytes)

        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        #expect(await leecher.sessionStatus().count(.downloading) == 1)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        #expect(await ClientFixtures.waitForCompletion(leecher, downloading)?.isComplete == true)

        let leechTotals = await leecher.sessionStatus()
        #expect(leechTotals.count(.seeding) == 1 && leechTotals.count(.downloading) == 0)
        #expect(leechTotals.downloadedBytes >= torrent.totalSize)
        #expect(await seeder.sessionStatus().uploadedBytes >= torrent.totalSize)

        let verified = try leechMetrics.expectCounter(EngineMetrics.Label.piecesVerified)
        #expect(verified.totalValue == Int64(torrent.pieceCount))
        // Byte counters are reported once a second.
        #expect(
            await ClientFixtures.eventually(limit: .seconds(10)) {
                let down = try? leechMetrics.expectCounter(EngineMetrics.Label.downloadedBytes)
                let up = try? seedMetrics.expectCounter(EngineMetrics.Label.uploadedBytes)
                return (down?.totalValue ?? 0) >= torrent.totalSize && (up?.totalValue ?? 0) >= torrent.totalSize
            })
        let torrents = try seedMetrics.expectGauge(EngineMetrics.Label.torrents)
        #expect(torrents.lastValue == 2)
        #expect((try? leechMetrics.expectCounter(EngineMetrics.Label.hashFailures).totalValue) ?? 0 == 0)
        // Two seeds drop each other: the disconnect is counted by reason on at least one side.
        #expect(
            await ClientFixtures.eventually(limit: .seconds(10)) {
                let a = try? seedMetrics.expectCounter(EngineMetrics.Label.disconnects, [("reason", "bothSeeds")])
                let b = try? leechMetrics.expectCounter(EngineMetrics.Label.disconnects, [("reason", "bothSeeds")])
                return (a?.totalValue ?? 0) + (b?.totalValue ?? 0) >= 1
            })
        // Lifecycle at info level, peers at debug level.
        let lines = logs.lines
        #expect(lines.contains { $0.level == .info && $0.message.hasPrefix("added ") })
        #expect(lines.contains { $0.level == .info && $0.message == "torrent finished" })
        #expect(lines.contains { $0.level == .debug && $0.message == "peer connected" })
        #expect(!lines.contains { $0.level == .debug && $0.message.hasPrefix("added ") })
        await leecher.shutdown()
        await seeder.shutdown()
    }
}

/// Log messages kept by a test `LogHandler`.
final class CapturedLogs: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [(level: Logger.Level, message: String)] = []

    var lines: [(level: Logger.Level, message: String)] { lock.withLock { storage } }

    func append(_ level: Logger.Level, _ message: String) { lock.withLock { storage.append((level, message)) } }

    /// Keeps every message at or above its level.
    struct Handler: LogHandler {
        let logs: CapturedLogs
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) { logs.append(event.level, "\(event.message)") }
    }
}
