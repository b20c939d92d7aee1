import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// Requests, received blocks on their way to storage, hash results and hash checks: what the client
/// downloads, for every torrent.
final class Downloader: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// Whether the client has a download rate limit (requests are then paid for up front); read live, since
    /// the limit can change while the client runs (`Client.setGlobalLimit`).
    var downloadLimited: Bool { core.rates.globalRate(.download) != nil }

    init(core: ClientCore) {
        self.core = core
    }

    /// Most requests a connection waits for before it sends more (see `fillRequests`).
    static let requestBatch = 128

    /// Asks the picker for as many blocks as the peer's pipeline takes and requests them.
    func fillRequests(_ connection: PeerConnection) {
        guard connection.isActive, connection.downloadDebt <= 0, let session = connection.session,
            session.state == .downloading, !isWriteBacklogFull(session),
            connection.withMachine({ $0.amInterested }) == true
        else { return }
        let now = loop.now
        // Under a download limit, requests are paid for up front: the next batch waits until the limiter has
        // granted this one, so what is in flight never runs far ahead of the limit.
        let limited = downloadLimited || session.limits.downloadLimit.bytesPerSecond != nil
        // The machine is moved out while it is asked and told (see `PeerConnection.withMachine`).
        let picked = connection.withMachine { machine -> (blocks: [BlockRequest], actions: [PeerAction])? in
            let capacity = machine.requestCapacity(now: now)
            // Requests go out in batches of a quarter of the pipeline (at most `requestBatch`), not one per
            // block that arrives: fewer, fuller packets for both sides. Only while at least three quarters of
            // the pipeline are in flight, so waiting for the batch never stalls the peer.
            let batch = min(Self.requestBatch, max(1, machine.pipelineDepth(now: now) / 4))
            guard capacity >= batch else { return nil }
            if machine.peerChoking && machine.allowedFastFromPeer.isEmpty { return nil }
            let context = PiecePicker<UInt64>.PickContext(
                choked: machine.peerChoking, allowedFast: machine.allowedFastFromPeer,
                suggested: machine.suggestedPieces,
                onParole: core.ledger.isOnParole(connection.endpoint.address.unmapped))
            let count = limited ? min(capacity, 4) : capacity
            let blocks = session.picker.pick(for: connection.key, count: count, context: context, using: &core.random)
            guard !blocks.isEmpty else { return nil }
            let actions = machine.request(
                blocks.map { BlockRequest(piece: $0.piece, offset: $0.offset, length: $0.length) }, now: now)
            return (blocks, actions)
        }
        guard let picked = picked ?? nil else { return }
        let blocks = picked.blocks
        core.perform(picked.actions, on: connection, refill: false)
        if limited && !connection.isClosed {
            let bytes = blocks.reduce(0) { $0 + $1.length }
            connection.downloadDebt += bytes
            core.grant(
                core.rates.request(
                    bytes, peer: connection.key, torrent: session.handle.wireInfoHash, direction: .download,
                    now: core.instant(now)))
        }
    }

    func deliver(_ block: Block, from connection: PeerConnection) {
        guard let session = connection.session else { return }
        let length = block.data.readableBytes
        connection.downloaded += Int64(length)
        connection.lastBlockAt = loop.now
        let piece = BlockRequest(piece: block.piece, offset: block.offset, length: length)
        receive(piece, bytes: block.data, from: connection.key, session: session)
    }

    /// A block from any source (a connection, or a web seed: `WebSeedSource`) on its way to storage: counted,
    /// told to the picker (which names the peers to cancel it with in endgame) and handed to the writer.
    func receive(_ piece: BlockRequest, bytes: ByteBuffer, from key: UInt64, session: TorrentSession) {
        let length = piece.length
        session.downloadedBytes += Int64(length)
        switch session.picker.blockReceived(piece, from: key) {
        case .accepted(let cancel):
            let now = loop.now
            let request = BlockRequest(piece: piece.piece, offset: piece.offset, length: length)
            for peer in cancel {
                guard let other = session.connections[peer],
                    let actions = other.withMachine({ $0.cancel(request, now: now) })
                else { continue }
                core.perform(actions, on: other, refill: false)
            }
        case .duplicate, .unwanted:
            return
        }
        writeStarted(length, session: session)
        // The block is a slice of the bytes NIO read from the socket: the store writes it from there (no copy).
        do {
            try writer(of: session).enqueue(ReceivedBlock(piece, bytes: bytes, from: PeerTag(key)))
        } catch {
            // Only a backlog past the writer's bound (our own back-pressure stops far below it) or a writer
            // already shut down: the block is not written and gets no outcome, so the torrent stops with the
            // error rather than wait for it.
            writeFinished(length, session: session)
            fail(session, error: error)
        }
    }

    /// The torrent's block writer (BTStorage's front end of its piece store, made on its first block); each
    /// batch's outcomes come back to the loop in one hop.
    func writer(of session: TorrentSession) -> PieceStore.BlockWriter {
        if let writer = session.writer { return writer }
        let downloader = self
        let loop = self.loop
        let writer = PieceStore.BlockWriter(
            store: session.store,
            scheduleFlush: { flush in
                loop.scheduleTask(in: .nanoseconds(PieceStore.BlockWriter.Configuration().flushDelayNanoseconds)) {
                    flush()
                }
            }
        ) { [weak session] outcomes in
            loop.execute {
                guard let session else { return }
                for outcome in outcomes {
                    downloader.written(
                        outcome.block, result: outcome.result.mapError { $0 as any Error }, session: session)
                }
            }
        }
        session.writer = writer
        return writer
    }

    func written(_ block: BlockRequest, result: Result<BlockWriteResult, any Error>, session: TorrentSession) {
        guard core.torrents[session.handle.wireInfoHash] === session else { return }
        defer { writeFinished(block.length, session: session) }
        switch result {
        case .failure(let error):
            fail(session, error: error)
        case .success(let outcome):
            _ = session.picker.blockWritten(block)
            switch outcome {
            case .pieceVerified(let piece, let peers):
                pieceVerified(piece, contributors: Set(peers.map(\.rawValue)), session: session)
            case .pieceFailed(let piece, let peers, let blocks):
                pieceFailed(piece, contributors: Set(peers.map(\.rawValue)), blocks: blocks, session: session)
            case .stored, .duplicate:
                break
            }
        }
    }

    func fail(_ session: TorrentSession, error: any Error) {
        guard session.state != .failed else { return }
        session.state = .failed
        session.error = "\(error)"
        events.emit(.fileError(ClientEvent.FileInfo(torrent: session.info, index: -1, path: []), message: "\(error)"))
        core.connections.disconnectAll(session, reason: .local)
    }

    /// Storage verified `piece`, whose blocks came from `contributors` (connection keys; storage's record,
    /// the only one).
    func pieceVerified(_ piece: Int, contributors: Set<UInt64>, session: TorrentSession) {
        guard !session.picker.have[piece] else { return }
        session.picker.pieceVerified(piece)
        session.verifiedBytes += TorrentSession.payloadBytes(ofPiece: piece, layout: session.picker.layout)
        _ = core.ledger.pieceVerified(contributors: Set(contributors.compactMap { session.peerAddresses[$0] }))
        if let attempts = session.failedAttempts.removeValue(forKey: piece) {
            convictSenders(of: attempts, piece: piece, session: session)
        }
        events.emit(.pieceHashPass(session.info, index: piece))
        metrics.pieceVerified()
        let now = loop.now
        for connection in Array(session.connections.values) where !connection.isClosed {
            guard let actions = connection.withMachine({ $0.havePiece(piece, now: now) }) else { continue }
            core.perform(actions, on: connection, refill: false)
        }
        // Dials still queued learn the piece too, or their bitfield and interest would start out of date.
        for entry in core.connections.dialQueue.values where entry.session === session {
            _ = entry.connection.withMachine { $0.havePiece(piece, now: now) }
        }
        if session.isComplete { finished(session) }
    }

    /// A piece failed its hash: it is downloaded again, and its senders are blamed. For a v2 or hybrid piece
    /// with storage's `blocks`, the block hashes say which senders sent bad blocks (``PieceLayerExchanger``
    /// asks a peer for them); otherwise every contributor is (``blame(_:contributors:session:narrowing:)``).
    /// `contributors` are the connection keys storage names as the piece's senders (its record, the only one).
    func pieceFailed(
        _ piece: Int, contributors: Set<UInt64>, blocks: FailedPieceBlocks? = nil, session: TorrentSession
    ) {
        session.picker.pieceFailed(piece)
        let webSeedBlamed = core.webSeeds.pieceFailed(piece, contributors: contributors, session: session)
        events.emit(.pieceHashFail(session.info, index: piece))
        metrics.hashFailed()
        if !webSeedBlamed {
            if let blocks, session.torrent.version != .v1 {
                core.pieceLayers.investigate(piece, blocks: blocks, session: session)
            } else {
                if let blocks { recordFailedAttempt(piece, blocks: blocks, session: session) }
                blame(piece, contributors: contributors, session: session, narrowing: true)
            }
        }
        for connection in Array(session.connections.values) { fillRequests(connection) }
    }

    /// Blames `contributors` (connection keys) for corrupt piece `piece`: reputation, parole, and a
    /// disconnect for those newly blacklisted. With `narrowing`, as the seed's parole does: when a
    /// contributor is already blacklisted (or else on parole), the corrupt piece is put down to it alone, so
    /// an honest peer finishing pieces a liar started is not punished for the liar's blocks; otherwise every
    /// contributor is (-20 each). Without it (the block hashes named the bad blocks' senders), exactly
    /// `contributors` are.
    func blame(_ piece: Int, contributors: Set<UInt64>, session: TorrentSession, narrowing: Bool) {
        let known = Set(contributors.compactMap { session.peerAddresses[$0] })
        let blacklisted = known.filter { core.ledger.isBlacklisted($0) }
        let paroled = known.filter { core.ledger.isOnParole($0) }
        let blamed = !narrowing ? known : (!blacklisted.isEmpty ? blacklisted : (!paroled.isEmpty ? paroled : known))
        let update = core.ledger.pieceFailed(contributors: blamed)
        for key in contributors {
            guard let connection = session.connections[key] else { continue }
            if update.newlyBlacklisted.contains(connection.endpoint.address.unmapped) {
                // Seed 002's reason for a peer whose reputation fell to the limit (`blacklisted` is for refusing
                // an address already on the list).
                core.connections.disconnect(
                    connection, .reputation, detail: "reputation fell to the limit after corrupt piece \(piece)")
            }
        }
    }

    /// A connection we dialled ended because both sides were upload only (BEP 21): while our own download is
    /// a partial one (files skipped), the peer is kept to dial again if more files are wanted.
    func partedUploadOnly(_ connection: PeerConnection, session: TorrentSession) {
        guard !session.picker.have.isAllSet, session.uploadOnlyParted.count < 1024 else { return }
        session.uploadOnlyParted.append(
            .init(host: connection.host, port: connection.port, source: connection.machine?.source ?? .tracker))
    }

    func finished(_ session: TorrentSession) {
        guard !session.reportedFinished else { return }
        session.reportedFinished = true
        if session.state == .downloading { session.state = .seeding }
        // `completed` only once every piece is verified, as libtorrent does (`is_seed()`): a torrent finished
        // with skipped files is still a leecher to the tracker (`left` > 0); it announces `completed` when the
        // skipped files are wanted again and downloaded (this runs again then).
        if session.picker.have.isAllSet { session.schedule?.completed(now: loop.now) }
        events.emit(.torrentFinished(session.info))
        let store = session.store
        if let path = session.resumePath {
            Task { try? await store.saveResumeData(to: path) }
        }
        if session.schedule != nil { core.announcer.announceDue(session, now: loop.now) }
    }

    /// Sets the priorities of `session`'s files in the picker and moves the torrent between downloading
    /// and seeding when what is wanted changed.
    func setFilePriorities(_ priorities: [FilePriority], of session: TorrentSession) {
        for (index, priority) in priorities.enumerated() where session.picker.priority(ofFile: index) != priority {
            session.picker.setPriority(priority, ofFile: index)
        }
        if session.state == .seeding && !session.isComplete {
            session.state = .downloading
            session.reportedFinished = false
            // Peers we parted from as both upload only (BEP 21) may have what is wanted now.
            for candidate in session.uploadOnlyParted { _ = session.candidates.append(candidate) }
            session.uploadOnlyParted.removeAll()
            core.connections.dialCandidates(session)
        } else if session.state == .downloading && session.isComplete {
            finished(session)
        }
        // Interest follows what is wanted: `interested` to a peer that now has a wanted piece, `not
        // interested` to one that has nothing wanted left.
        let wanted = session.wantedPiecesForInterest
        let now = loop.now
        for connection in Array(session.connections.values) {
            guard !connection.isClosed,
                let actions = connection.withMachine({ $0.setWantedPieces(wanted, now: now) })
            else { continue }
            core.perform(actions, on: connection)
        }
        for entry in core.connections.dialQueue.values where entry.session === session {
            _ = entry.connection.withMachine { $0.setWantedPieces(wanted, now: now) }  // not connected: nothing to send
        }
    }
}

/// Download back-pressure: blocks received but not yet in storage are bounded per torrent. Each block
/// handed to the ``PieceStore`` counts in ``TorrentSession/pendingWriteBytes`` until its write finishes;
/// while the figure is at ``ClientConfiguration/maximumPendingWriteBytesPerTorrent`` no new requests are
/// sent (blocks already requested still arrive), and requesting resumes as writes complete. A disk slower
/// than the network therefore slows the download instead of filling memory.
extension Downloader {
    /// Whether `session` has as many bytes waiting for storage as it may.
    func isWriteBacklogFull(_ session: TorrentSession) -> Bool {
        session.pendingWriteBytes >= configuration.maximumPendingWriteBytesPerTorrent
    }

    /// A block of `length` bytes was handed to storage.
    func writeStarted(_ length: Int, session: TorrentSession) {
        session.pendingWriteBytes += length
        session.peakPendingWriteBytes = max(session.peakPendingWriteBytes, session.pendingWriteBytes)
    }

    /// A block's write finished (or failed); requests resume when the backlog falls below the cap.
    func writeFinished(_ length: Int, session: TorrentSession) {
        let wasFull = isWriteBacklogFull(session)
        session.pendingWriteBytes -= length
        if session.pendingWriteBytes == 0 && !session.writeWaiters.isEmpty {
            let waiters = session.writeWaiters
            session.writeWaiters.removeAll()
            for waiter in waiters { waiter.succeed() }
        }
        if wasFull && !isWriteBacklogFull(session) {
            core.webSeeds.fill(session)
            for connection in Array(session.connections.values) { fillRequests(connection) }
        }
    }
}
