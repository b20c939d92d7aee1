import BTStorage
import BTWire
import NIOCore

/// Snapshots beyond the basic ``TorrentStatus``: check progress, queued upload bytes, limits, wanted
/// pieces, and per-peer status.
extension ClientCore {
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
        let queued = connections.dialQueue.values.filter { $0.session === session }.map(\.connection)
        return (Array(session.connections.values) + queued).sorted { $0.key < $1.key }.map { connection in
            let down = connection.withMachine { $0.rateDown(at: now) } ?? 0
            let up = connection.withMachine { $0.rateUp(at: now) } ?? 0
            let machine = connection.machine
            var status = PeerStatus(
                endpoint: connection.endpoint, peerID: machine?.peerID?.bytes, isIncoming: connection.isIncoming,
                isActive: connection.isActive, downloadedBytes: connection.downloaded,
                uploadedBytes: connection.uploaded, downloadRate: down, uploadRate: up,
                queuedRequests: machine?.servingQueueLength ?? 0,
                deferredRequests: connection.deferredUploads.count,
                queuedUploadBytes: connection.queuedUploadBytes, amChoking: machine?.amChoking ?? true,
                peerChoking: machine?.peerChoking ?? true, isSeed: machine?.isSeed ?? false)
            guard let machine else { return status }
            switch machine.phase {
            case .queued: status.phase = .queued
            case .connecting: status.phase = .connecting
            case .handshake: status.phase = .handshaking
            case .active, .closed: status.phase = .connected
            }
            if connections.dialQueue[connection.key] != nil { status.phase = .queued }
            status.amInterested = machine.amInterested
            status.peerInterested = machine.peerInterested
            status.isSnubbed = machine.isSnubbed
            status.isOnParole = machine.isOnParole
            status.isOptimisticUnchoke = machine.isOptimisticUnchoke
            status.isUploadOnly = machine.isUploadOnly
            status.isEncrypted = connection.isEncrypted || machine.isEncrypted
            status.reputation = ledger.score(of: connection.endpoint.address.unmapped)
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
        for session in torrents.values {
            metrics.transferred(
                down: session.downloadedBytes - session.reportedDownloaded,
                up: session.uploadedBytes - session.reportedUploaded)
            session.reportedDownloaded = session.downloadedBytes
            session.reportedUploaded = session.uploadedBytes
            peers += session.connections.values.reduce(0) { $0 + ($1.isActive ? 1 : 0) }
        }
        metrics.gauges(peers: peers, torrents: torrents.count)
    }
}
