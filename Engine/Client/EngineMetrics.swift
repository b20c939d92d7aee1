import CoreMetrics
import Foundation

/// The client's counters and gauges, through swift-metrics (the factory of
/// ``ClientConfiguration/metricsFactory``, else the process-wide one):
///
/// | label | kind | meaning |
/// |---|---|---|
/// | `nbt_engine_downloaded_bytes` | counter | block payload received |
/// | `nbt_engine_uploaded_bytes` | counter | block payload sent |
/// | `nbt_engine_pieces_verified` | counter | pieces whose hash passed |
/// | `nbt_engine_hash_failures` | counter | pieces whose hash failed |
/// | `nbt_engine_disconnects` | counter, dimension `reason` | connections closed or refused, by reason |
/// | `nbt_engine_peers_connected` | gauge | connections with handshakes done |
/// | `nbt_engine_torrents` | gauge | torrents in the client |
///
/// Byte counters and gauges are updated once a second, the others as things happen.
final class EngineMetrics: @unchecked Sendable {
    /// Counter and gauge labels.
    enum Label {
        static let downloadedBytes = "nbt_engine_downloaded_bytes"
        static let uploadedBytes = "nbt_engine_uploaded_bytes"
        static let piecesVerified = "nbt_engine_pieces_verified"
        static let hashFailures = "nbt_engine_hash_failures"
        static let disconnects = "nbt_engine_disconnects"
        static let peersConnected = "nbt_engine_peers_connected"
        static let torrents = "nbt_engine_torrents"
    }

    private let factory: any MetricsFactory
    private let downloadedBytes: Counter
    private let uploadedBytes: Counter
    private let piecesVerified: Counter
    private let hashFailures: Counter
    private let peersConnected: Gauge
    private let torrentCount: Gauge
    // Disconnect counters by reason; guarded by `lock` (refusals are counted off the loop too).
    private let lock = NSLock()
    private var disconnects: [String: Counter] = [:]

    init(factory: (any MetricsFactory)?) {
        let factory = factory ?? MetricsSystem.factory
        self.factory = factory
        downloadedBytes = Counter(label: Label.downloadedBytes, dimensions: [], factory: factory)
        uploadedBytes = Counter(label: Label.uploadedBytes, dimensions: [], factory: factory)
        piecesVerified = Counter(label: Label.piecesVerified, dimensions: [], factory: factory)
        hashFailures = Counter(label: Label.hashFailures, dimensions: [], factory: factory)
        peersConnected = Gauge(label: Label.peersConnected, dimensions: [], factory: factory)
        torrentCount = Gauge(label: Label.torrents, dimensions: [], factory: factory)
    }

    func transferred(down: Int64, up: Int64) {
        if down > 0 { downloadedBytes.increment(by: down) }
        if up > 0 { uploadedBytes.increment(by: up) }
    }

    func pieceVerified() { piecesVerified.increment() }

    func hashFailed() { hashFailures.increment() }

    func disconnected(_ reason: DisconnectReason) {
        let counter = lock.withLock {
            if let counter = disconnects[reason.name] { return counter }
            let counter = Counter(label: Label.disconnects, dimensions: [("reason", reason.name)], factory: factory)
            disconnects[reason.name] = counter
            return counter
        }
        counter.increment()
    }

    func gauges(peers: Int, torrents: Int) {
        peersConnected.record(peers)
        torrentCount.record(torrents)
    }
}
