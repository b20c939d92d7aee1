import Logging

/// Logs the client's events through swift-log: peer connects and disconnects at debug level, torrent
/// completion and hash failures at info level (the ``Client`` logs additions, removals, pauses and checks
/// itself). Handlers are registered for those kinds only, so the busy per-packet events cost nothing here.
enum EngineTelemetry {
    /// Registers the logging handlers on `bus`.
    static func attach(to bus: EventBus, logger: Logger) {
        bus.on(.peerConnect) { event in
            guard case .peerConnect(let peer) = event else { return }
            logger.debug(
                "peer connected",
                metadata: [
                    "peer": "\(peer.endpoint)", "incoming": "\(peer.isIncoming)",
                    "torrent": "\(peer.torrent?.name ?? "?")",
                ])
        }
        bus.on(.peerDisconnect) { event in
            guard case .peerDisconnect(let peer, let reason) = event else { return }
            logger.debug(
                "peer disconnected",
                metadata: [
                    "peer": "\(peer.endpoint)", "reason": "\(reason.name)", "torrent": "\(peer.torrent?.name ?? "?")",
                ])
        }
        bus.on(.pieceHashFail) { event in
            guard case .pieceHashFail(let torrent, let index) = event else { return }
            logger.info("piece failed its hash check", metadata: ["torrent": "\(torrent.name)", "piece": "\(index)"])
        }
        bus.on(.torrentFinished) { event in
            guard case .torrentFinished(let torrent) = event else { return }
            logger.info("torrent finished", metadata: ["torrent": "\(torrent.name)"])
        }
    }
}
