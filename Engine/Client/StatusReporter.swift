import BTStorage
import BTWire
import NIOCore

/// Status snapshots of torrents (``TorrentStatus``: rates, progress, check progress, queued upload bytes,
/// limits, wanted pieces) and of their peers (``PeerStatus``), and the metrics the one-second tick reports.
/// It reads the engine's state and changes none of it.
final class StatusReporter: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore

    init(core: ClientCore) {
        self.core = core
    }

    /// The basic status of `session`: state, progress, rates, peers and seeds, ETA.
    func status(_ session: TorrentSession) -> TorrentStatus {
        let now = loop.now
        var down = 0.0
        var up = 0.0
        var peers = 0
        var seeds = 0
        for connection in session.connections.values where connection.isActive {
            guard
                let (rateDown, rateUp, isSeed) = connection.withMachine({
                    ($0.rateDown(at: now), $0.rateUp(at: now), $0.isSeed)
                })
            else { continue }
            down += rateDown
            up += rateUp
            peers += 1
            if isSeed { seeds += 1 }
        }
        let webSeedStatuses = core.webSeeds.statuses(of: session)
        down += webSeedStatuses.reduce(0) { $0 + $1.downloadRate }
        let progress =
            session.metadata != nil
            ? 0 : (session.totalBytes == 0 ? 1 : Double(session.verifiedBytes) / Double(session.totalBytes))
        var eta: Duration?
        if !session.isComplete && session.hasMetadata && down > 1 {
            eta = .seconds(Double(session.bytesLeft) / down)
        }
        let base = session.downloadedBytes > 0 ? session.downloadedBytes : max(session.totalBytes, 1)
        return TorrentStatus(
            handle: session.handle, state: session.state, progress: progress, totalBytes: session.totalBytes,
            verifiedBytes: session.verifiedBytes, verifiedPieces: session.picker.have.setCount,
            pieceCount: session.picker.layout.pieceCount, downloadRate: down, uploadRate: up, peers: peers,
            seeds: seeds, eta: eta, downloadedBytes: session.downloadedBytes, uploadedBytes: session.uploadedBytes,
            ratio: Double(session.uploadedBytes) / Double(base), error: session.error, webSeeds: webSeedStatuses)
    }

    /// The status of `session` with every field filled in.
    func fullStatus(_ session: TorrentSession) -> TorrentStatus {
        var result = status(session)
        result.checkProgress = session.state == .checking ? (session.checkProgress ?? 0) : nil
        result.queuedUploadBytes = session.connections.values.reduce(0) { $0 + $1.queuedUploadBytes }
        result.limits = session.limits
        result.pendingWriteBytes = session.pendingWriteBytes
        let layout = session.picker.layout
        for piece in 0..<layout.pieceCount where session.picker.priority(ofPiece: piece) > 0 {
            let bytes = TorrentSession.payloadBytes(ofPiece: piece, layout: layout)
            result.wantedPieces += 1
            result.wantedBytes += bytes
            if session.picker.have[piece] { result.verifiedWantedBytes += bytes }
        }
        result.isFinished = session.hasMetadata && session.isComplete
        if let metadata = session.metadata {
            let progress = metadata.fetch.progress
            result.metadataProgress = MetadataProgress(received: progress?.received ?? 0, total: progress?.total ?? 0)
        }
        if result.eta != nil && result.downloadRate > 1 {
            result.eta = .seconds(Double(max(0, result.wantedBytes - result.verifiedWantedBytes)) / result.downloadRate)
        }
        return result
    }

    /// One ``PeerStatus`` per connection of `session` (queued and connecting ones included), oldest first.
    func peerStatuses(_ session: TorrentSession) -> [PeerStatus] {
        let now = loop.now
        let queued = core.connections.dialQueue.values.filter { $0.session === session }.map(\.connection)
        return (Array(session.connections.values) + queued).sorted { $0.key < $1.key }.map { connection in
            let down = connection.withMachine { $0.rateDown(at: now) } ?? 0
            let up = connection.withMachine { $0.rateUp(at: now) } ?? 0
            let machine = connection.machine
            var status = PeerStatus(
                endpoint: connection.endpoint, peerID: machine?.peerID?.bytes, isIncoming: connection.isIncoming,
                isActive: connection.isActive, downloadedBytes: connection.downloaded,
                uploadedBytes: connection.uploaded, downloadRate: down, uploadRate: up,
                queuedRequests: machine?.servingQueueLength ?? 0,
                deferredRequests: machine?.requestsWaitingToBeRead ?? 0,
                queuedUploadBytes: connection.queuedUploadBytes, amChoking: machine?.amChoking ?? true,
                peerChoking: machine?.peerChoking ?? true, isSeed: machine?.isSeed ?? false)
            guard let machine else { return status }
            switch machine.phase {
            case .queued: status.phase = .queued
            case .connecting: status.phase = .connecting
            case .handshake: status.phase = .handshaking
            case .active, .closed: status.phase = .connected
            }
            if core.connections.dialQueue[connection.key] != nil { status.phase = .queued }
            status.amInterested = machine.amInterested
            status.peerInterested = machine.peerInterested
            status.isSnubbed = machine.isSnubbed
            status.isOnParole = core.ledger.isOnParole(connection.endpoint.address.unmapped)
            status.isOptimisticUnchoke = machine.isOptimisticUnchoke
            status.isUploadOnly = machine.isUploadOnly
            status.isEncrypted = connection.isEncrypted || machine.isEncrypted
            status.reputation = core.ledger.score(of: connection.endpoint.address.unmapped)
            status.supportsExtensions = machine.supportsExtensions
            status.supportsFastExtension = machine.supportsFastExtension
            status.peerPieceCount = machine.peerPieces.setCount
            status.client =
                machine.remoteExtensions?.client
                ?? machine.peerID?.client.map { $0.version.isEmpty ? $0.name : "\($0.name) \($0.version)" }
            status.pieces = machine.peerPieces
            status.reservedBytes = machine.reservedBytes?.bytes
            status.source = machine.source
            status.blocksInFlight = machine.blocksInFlight
            status.allowedFastFromPeer = machine.allowedFastFromPeer
            status.allowedFastToPeer = machine.allowedFastToPeer
            status.transport = connection.channel.map { TransportKind(of: $0) } ?? configuration.transport.kind
            return status
        }
    }

    /// Reports byte counters and gauges (called from the one-second tick).
    func reportMetrics() {
        var peers = 0
        for session in core.torrents.values {
            metrics.transferred(
                down: session.downloadedBytes - session.reportedDownloaded,
                up: session.uploadedBytes - session.reportedUploaded)
            session.reportedDownloaded = session.downloadedBytes
            session.reportedUploaded = session.uploadedBytes
            peers += session.connections.values.reduce(0) { $0 + ($1.isActive ? 1 : 0) }
        }
        metrics.gauges(peers: peers, torrents: core.torrents.count)
    }
}
