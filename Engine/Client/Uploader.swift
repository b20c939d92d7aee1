import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// Serving requested blocks (reads, upload tokens, back-pressure) and choking: what the client uploads, for
/// every torrent.
final class Uploader: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// Whether the client has an upload rate limit (reads then wait for the limiter's grant); read live, since
    /// the limit can change while the client runs (`Client.setGlobalLimit`).
    var uploadLimited: Bool { core.rates.globalRate(.upload) != nil }

    init(core: ClientCore) {
        self.core = core
    }

    func serve(_ request: BlockRequest, to connection: PeerConnection, admitted: Bool = false) {
        guard let session = connection.session else { return }
        guard admitted || admitsUpload(request, to: connection) else { return }
        connection.admittedUploadBytes += Self.uploadCost(request)
        if uploadLimited || session.limits.uploadLimit.bytesPerSecond != nil {
            connection.pendingUploads.append(request)
            core.grant(
                core.rates.request(
                    request.length, peer: connection.key, torrent: session.handle.wireInfoHash, direction: .upload,
                    now: core.instant(loop.now)))
            return
        }
        read(request, for: connection, session: session)
    }

    func read(_ request: BlockRequest, for connection: PeerConnection, session: TorrentSession) {
        readQueue(of: session).enqueue(BlockReadQueue.Item(request: request, connection: connection))
    }

    /// The torrent's upload read queue (made on its first request); each batch's results come back to the
    /// loop in one hop.
    func readQueue(of session: TorrentSession) -> BlockReadQueue {
        if let queue = session.readQueue { return queue }
        let uploader = self
        let loop = self.loop
        let queue = BlockReadQueue(store: session.store) { outcomes in
            loop.execute {
                uploader.core.deferringFlushes {
                    for (item, result) in outcomes {
                        switch result {
                        case .success(let bytes):
                            uploader.blockRead(item.request, bytes: bytes, connection: item.connection)
                        case .failure: uploader.blockUnavailable(item.request, connection: item.connection)
                        }
                    }
                }
            }
        }
        session.readQueue = queue
        return queue
    }

    func blockRead(_ request: BlockRequest, bytes: [UInt8], connection: PeerConnection) {
        connection.admittedUploadBytes -= Self.uploadCost(request)
        defer { drainDeferredUploads(connection) }
        guard !connection.isClosed, let channel = connection.channel else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let now = loop.now
        guard let actions = connection.withMachine({ $0.blockRead(request, data: buffer, now: now) }) else { return }
        for case .send(.piece(let block)) in actions {
            let length = Int64(block.data.readableBytes)
            connection.uploaded += length
            connection.session?.uploadedBytes += length
            connection.lastUploadAt = now
        }
        core.perform(actions, on: connection, refill: false)
    }

    func blockUnavailable(_ request: BlockRequest, connection: PeerConnection) {
        connection.admittedUploadBytes -= Self.uploadCost(request)
        defer { drainDeferredUploads(connection) }
        let now = loop.now
        guard !connection.isClosed, let actions = connection.withMachine({ $0.blockUnavailable(request, now: now) })
        else { return }
        core.perform(actions, on: connection, refill: false)
    }

    // MARK: Choking

    func rechoke(_ session: TorrentSession, now: NIODeadline) {
        session.rechokeSoon = false
        session.nextRechoke = now + .seconds(10)
        var snapshots: [Choker<UInt64>.PeerSnapshot] = []
        for connection in session.connections.values where connection.isActive {
            let connectedAt = core.instant(connection.createdAt)
            let unchokedUsAt = connection.unchokedUsAt.map(core.instant)
            let lastBlockAt = connection.lastBlockAt.map(core.instant)
            guard
                let snapshot = connection.withMachine({ machine in
                    Choker<UInt64>.PeerSnapshot(
                        peer: connection.key, isInterested: machine.peerInterested,
                        weAreInterested: machine.amInterested, downloadRate: Int(machine.rateDown(at: now)),
                        uploadRate: Int(machine.rateUp(at: now)), connectedAt: connectedAt,
                        unchokedUsAt: unchokedUsAt, lastBlockAt: lastBlockAt)
                })
            else { continue }
            snapshots.append(snapshot)
        }
        let result = session.choker.rechoke(
            now: core.instant(now), peers: snapshots, seeding: session.isComplete, using: &core.random)
        for decision in result.decisions {
            let key: UInt64
            let unchoke: Bool
            switch decision {
            case .choke(let peer): (key, unchoke) = (peer, false)
            case .unchoke(let peer): (key, unchoke) = (peer, true)
            }
            guard let connection = session.connections[key],
                let actions = connection.withMachine({ unchoke ? $0.unchoke(now: now) : $0.choke(now: now) })
            else { continue }
            core.perform(actions, on: connection, refill: false)
            if !unchoke { dropUnansweredUploads(of: connection) }
        }
        // Every peer's flag, not only those whose choke state changed: the optimistic slot moves on between
        // peers that stay unchoked.
        for connection in session.connections.values {
            let optimistic = result.optimistic.contains(connection.key)
            _ = connection.withMachine { $0.isOptimisticUnchoke = optimistic }
        }
    }
}
