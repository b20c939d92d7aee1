import BTMSE
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
    /// Each torrent's files held open for uploads by `sendfile`, by session (made on its first such block).
    private var uploadFiles: [ObjectIdentifier: UploadFiles] = [:]
    /// Blocks sent as file regions (`sendfile`), every torrent together.
    private(set) var blocksSentFromFiles = 0
    /// Whether plaintext TCP peers get blocks as file regions. Off unless `NBT_UPLOAD_SENDFILE=1` is in the
    /// environment: it halves the seed's CPU per GiB, but in the same-run benchmark of stop 13 our own
    /// downloader got the torrent at about half the rate from it (see Benchmarks/download/README.md, issue
    /// 13). The socket is now corked around file regions (full segments, no 13-byte segment per block), but
    /// a release same-run benchmark of the corked seed is still owed before it becomes the default. Tests set
    /// it on the loop.
    var sendfileAllowed: Bool
    /// Whether those peers' sockets are corked while file regions are queued
    /// (``PeerChannelHandler/corksFileRegions``): yes, unless `NBT_UPLOAD_CORK=0` (for A/B measurements).
    var corkAllowed: Bool

    init(core: ClientCore) {
        self.core = core
        let environment = ProcessInfo.processInfo.environment
        self.sendfileAllowed = environment["NBT_UPLOAD_SENDFILE"] == "1"
        self.corkAllowed = environment["NBT_UPLOAD_CORK"] != "0"
    }

    /// Sends the block of `request`: straight from its file for a plaintext TCP peer (``sendsFromFiles(_:)``),
    /// else read by the torrent's block reader (BTStorage's `PieceStore.BlockReader`) straight into the buffer
    /// that goes to the socket. A request the reader refuses (its backlog past 64 MiB: all of the torrent's
    /// peers together, far above what the per-peer caps let through in practice) is answered as unavailable.
    func read(_ request: BlockRequest, for connection: PeerConnection, session: TorrentSession) {
        if sendsFromFiles(connection), let region = files(of: session).region(for: request) {
            send(request, from: region, to: connection)
            return
        }
        do {
            try reader(of: session).enqueue(request, for: connection)
        } catch {
            blockUnavailable(request, connection: connection, claimingMore: false)
        }
    }

    /// Whether `connection`'s blocks may go out as file regions (`sendfile`): its channel is NIOPosix's TCP
    /// socket channel (file regions are written with `sendfile(2)` there, and only there), nothing encrypts
    /// it (no MSE handler left in the pipeline; a plaintext MSE outcome removes its handler) and nobody
    /// observes packets (a packet event carries the block's bytes). Remembered once true.
    func sendsFromFiles(_ connection: PeerConnection) -> Bool {
        if connection.sendsFromFiles { return true }
        guard sendfileAllowed, !configuration.reportsPacketEvents, !connection.isEncrypted,
            let channel = connection.channel,
            String(describing: type(of: channel)) == "SocketChannel",
            (try? channel.pipeline.syncOperations.handler(type: MSEChannelHandler.self)) == nil
        else { return false }
        connection.sendsFromFiles = true
        connection.driver?.corksFileRegions = corkAllowed
        return true
    }

    /// The open files of `session` for uploads by `sendfile`.
    func files(of session: TorrentSession) -> UploadFiles {
        let key = ObjectIdentifier(session)
        if let files = uploadFiles[key] { return files }
        let files = UploadFiles(store: session.store)
        uploadFiles[key] = files
        return files
    }

    /// Closes the files `session` held open for uploads (the torrent is removed; its peers are gone).
    func closeFiles(of session: TorrentSession) {
        uploadFiles.removeValue(forKey: ObjectIdentifier(session))?.closeAll()
    }

    /// Hands the driver the `piece` header and the block's file region: no storage read, no hop, no copy.
    /// The admitted bytes become queued output bytes at once (the same count), so no waiting request can
    /// fit now that did not before: they are claimed when the socket takes bytes (`didSend`).
    private func send(_ request: BlockRequest, from region: FileRegion, to connection: PeerConnection) {
        connection.admittedUploadBytes -= Self.uploadCost(request)
        guard !connection.isClosed, let driver = connection.driver else { return }
        let deferring = core.deferredFlushes != nil
        guard driver.sendPiece(request, from: region, flush: !deferring) else { return }
        let length = Int64(request.length)
        connection.uploaded += length
        connection.session?.uploadedBytes += length
        connection.lastUploadAt = loop.now
        blocksSentFromFiles += 1
        if deferring { core.deferredFlushes?[connection.key] = connection }
    }

    /// The torrent's block reader (made on its first request): batches of requests read on a storage worker
    /// into buffers from the channels' allocator; each batch's results come back to the loop in one hop.
    func reader(of session: TorrentSession) -> PieceStore.BlockReader<PeerConnection> {
        if let reader = session.reader { return reader }
        let uploader = self
        let loop = self.loop
        let reader = PieceStore.BlockReader<PeerConnection>(store: session.store, allocator: ByteBufferAllocator()) {
            outcomes in
            loop.execute {
                uploader.core.deferringFlushes {
                    for (request, connection, result) in outcomes {
                        switch result {
                        case .success(let block): uploader.blockRead(request, block: block, connection: connection)
                        case .failure: uploader.blockUnavailable(request, connection: connection)
                        }
                    }
                }
            }
        }
        session.reader = reader
        return reader
    }

    /// Gives the block read for `request` (its buffer, as storage filled it) to `connection`'s machine, which
    /// sends it unless the request was cancelled or choked away meanwhile.
    func blockRead(_ request: BlockRequest, block: ByteBuffer, connection: PeerConnection) {
        connection.admittedUploadBytes -= Self.uploadCost(request)
        defer { startReads(connection) }
        guard !connection.isClosed, connection.channel != nil else { return }
        let now = loop.now
        guard let actions = connection.withMachine({ $0.blockRead(request, data: block, now: now) }) else { return }
        for case .send(.piece(let block)) in actions {
            let length = Int64(block.data.readableBytes)
            connection.uploaded += length
            connection.session?.uploadedBytes += length
            connection.lastUploadAt = now
        }
        core.perform(actions, on: connection, refill: false)
    }

    /// Storage could not read the block of `request`: its machine answers (a reject under the fast extension),
    /// and the requests waiting behind it are claimed. `claimingMore: false` is for a refusal inside
    /// ``startReads(_:)``'s own loop, which claims the next one itself.
    func blockUnavailable(_ request: BlockRequest, connection: PeerConnection, claimingMore: Bool = true) {
        connection.admittedUploadBytes -= Self.uploadCost(request)
        defer { if claimingMore { startReads(connection) } }
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
        }
        // Every peer's flag, not only those whose choke state changed: the optimistic slot moves on between
        // peers that stay unchoked.
        for connection in session.connections.values {
            let optimistic = result.optimistic.contains(connection.key)
            _ = connection.withMachine { $0.isOptimisticUnchoke = optimistic }
        }
    }
}
