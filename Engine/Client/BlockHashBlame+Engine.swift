import BTMetainfo
import BTStorage
import BTWire
import NIOCore

/// Blaming only the senders of a failed v2 piece's bad blocks (BEP 52), in the engine.
///
/// When a piece of a v2 or hybrid torrent fails its hash, storage names each block's sender and hash
/// (``FailedPieceBlocks``). The session's BTWire ``BlockHashBlame`` asks a peer that speaks v2 for the
/// piece's block hashes, with their proof up to the file's root; the senders of the blocks whose hashes
/// differ are blamed (reputation, parole, blacklist, as ``Downloader/blame(_:contributors:session:narrowing:)``
/// does), and the honest peers that sent the piece's other blocks are not. A peer whose block hashes do not
/// prove is blamed as a liar. When no peer can tell (none speaks v2, all reject or are silent), the piece is
/// blamed as before, on all its contributors.
extension PieceLayerExchanger {
    /// Piece `piece` of `session` failed; `blocks` is storage's evidence. Blame is decided now or later.
    func investigate(_ piece: Int, blocks: FailedPieceBlocks, session: TorrentSession) {
        if session.blockBlame == nil { session.blockBlame = BlockHashBlame(torrent: session.torrent) }
        let now = loop.now
        let actions = session.blockBlame!.pieceFailed(
            piece, blockHashes: blocks.blockHashes, senders: blocks.senders.map(\.rawValue),
            candidates: blockHashCandidates(session), now: now)
        performBlame(actions, session: session)
    }

    /// The connected peers that may be asked for block hashes (they speak v2 on this connection), in key order.
    func blockHashCandidates(_ session: TorrentSession) -> [UInt64] {
        session.connections.values.filter {
            $0.isActive && !$0.isClosed
                && PendingPieceLayers.speaksV2($0.machine?.remoteHandshake, torrent: session.torrent)
        }.map(\.key).sorted()
    }

    /// Whether `request` is one the blame investigation asked (a block-layer request for an open piece).
    func isBlockBlameRequest(_ request: HashRequest, session: TorrentSession) -> Bool {
        request.baseLayer == 0 && !(session.blockBlame?.openPieces.isEmpty ?? true)
    }

    /// A `hashes` or `hash reject` of the block layer from `connection`'s peer.
    func receivedBlockLayer(_ message: PeerMessage, from connection: PeerConnection, session: TorrentSession) {
        guard session.blockBlame != nil else { return }
        let now = loop.now
        switch message {
        case .hashes(let hashes):
            configuration.logger.debug("\(connection.endpoint) sent the block hashes \(hashes.request.logDescription)")
            performBlame(session.blockBlame!.received(hashes, from: connection.key, now: now), session: session)
        case .hashReject(let request):
            performBlame(
                session.blockBlame!.rejected(
                    request, by: connection.key, candidates: blockHashCandidates(session), now: now),
                session: session)
        default:
            return
        }
    }

    /// Every second: questions past their deadline go to other peers.
    func tickBlockBlame(_ session: TorrentSession, now: NIODeadline) {
        guard session.blockBlame != nil, !session.blockBlame!.openPieces.isEmpty else { return }
        performBlame(session.blockBlame!.tick(now: now, candidates: blockHashCandidates(session)), session: session)
    }

    private func performBlame(_ actions: [BlockHashBlame<UInt64>.Action], session: TorrentSession) {
        for action in actions {
            switch action {
            case .send(let request, let key):
                guard let connection = session.connections[key] else { continue }
                configuration.logger.debug(
                    "asking \(connection.endpoint) for the block hashes \(request.logDescription)")
                send(.hashRequest(request), to: connection)
            case .blame(let keys, let piece):
                let senders = keys.map { session.peerAddresses[$0].map { "\($0)" } ?? "an unknown peer" }
                configuration.logger.info(
                    "\(session.handle.name): block hashes of piece \(piece) name \(keys.count) sender(s) of bad blocks: \(senders.sorted().joined(separator: ", "))"
                )
                core.downloads.blame(piece, contributors: keys, session: session, narrowing: false)
            case .liar(let key):
                blame(key, session: session, detail: "block hashes do not verify")
            case .unresolved(let piece, let contributors):
                core.downloads.blame(piece, contributors: contributors, session: session, narrowing: true)
            }
        }
    }
}

/// Serving the block layer (BEP 52 base layer 0): the one piece a request covers is read from our verified
/// data and hashed, and the answer built with its proof (``PieceLayerServing/answerBlocks(_:from:pieceBlockHashes:)``).
extension PieceLayerExchanger {
    func serveBlocks(_ request: HashRequest, to connection: PeerConnection, session: TorrentSession, now: NIODeadline) {
        guard let piece = session.pieceLayerServing?.admitBlockRequest(request, from: connection.key, now: now) else {
            send(.hashReject(request), to: connection)
            return
        }
        guard piece < session.picker.have.count, session.picker.have[piece] else {
            _ = session.pieceLayerServing?.answerBlocks(request, from: connection.key, pieceBlockHashes: nil)
            send(.hashReject(request), to: connection)
            return
        }
        let store = session.store
        let size = session.torrent.layout.size(ofPiece: piece)
        let blocks = stride(from: 0, to: size, by: MerkleTree.blockSize).map {
            BlockRequest(piece: piece, offset: $0, length: min(MerkleTree.blockSize, size - $0))
        }
        let loop = self.loop
        Task {
            var hashes: [UInt8]? = []
            for result in await store.readBlocks(blocks) {
                guard case .success(let bytes) = result else {
                    hashes = nil
                    break
                }
                hashes! += bytes.withUnsafeBytes { MerkleTree.blockHashes($0) }
            }
            let pieceBlockHashes = hashes
            loop.execute {
                guard session.pieceLayerServing != nil else { return }
                let answer = session.pieceLayerServing!.answerBlocks(
                    request, from: connection.key, pieceBlockHashes: pieceBlockHashes)
                guard !connection.isClosed else { return }
                switch answer {
                case .hashes(let hashes):
                    self.configuration.logger.debug("sending \(connection.endpoint) the block hashes of piece \(piece)")
                    self.send(.hashes(hashes), to: connection)
                case .reject(let request): self.send(.hashReject(request), to: connection)
                }
            }
        }
    }
}

extension HashRequest {
    /// The request in a log line: its layer and range, the root shortened.
    var logDescription: String {
        let root = NetBitTorrentHex.encode(piecesRoot.prefix(4))
        return "(root \(root)…, base layer \(baseLayer), index \(index), length \(length), proof layers \(proofLayers))"
    }
}
