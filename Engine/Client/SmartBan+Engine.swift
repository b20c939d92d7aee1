import BTMetainfo
import BTStorage
import NIOCore

/// Proving which peer sent a bad block of a v1 piece, as libtorrent's smart ban does.
///
/// A v1 piece that fails its SHA-1 tells only that one of its blocks is wrong, so its senders share the blame
/// (reputation, parole). Storage hands over each block's SHA-256 as written with its sender
/// (``FailedPieceBlocks``); the engine keeps them until the piece verifies, then compares them with the hashes
/// of the good piece's blocks: a sender whose block differs sent corrupt data, which is proof, and it is
/// blacklisted at once and disconnected. Honest senders of the failed attempt are not touched further.
/// Bounded: ``maximumFailedPieces`` pieces per torrent, ``maximumAttemptsPerPiece`` attempts each.
extension Downloader {
    /// Most pieces per torrent whose failed attempts are kept.
    static let maximumFailedPieces = 256
    /// Most failed attempts kept per piece.
    static let maximumAttemptsPerPiece = 4

    /// Keeps a failed attempt at `piece` until the piece verifies.
    func recordFailedAttempt(_ piece: Int, blocks: FailedPieceBlocks, session: TorrentSession) {
        guard session.failedAttempts[piece] != nil || session.failedAttempts.count < Self.maximumFailedPieces
        else { return }
        var attempts = session.failedAttempts[piece] ?? []
        guard attempts.count < Self.maximumAttemptsPerPiece else { return }
        attempts.append(blocks)
        session.failedAttempts[piece] = attempts
    }

    /// `piece` verified after the failed `attempts`: reads its blocks' hashes, then blacklists the senders of
    /// the blocks that differed.
    func convictSenders(of attempts: [FailedPieceBlocks], piece: Int, session: TorrentSession) {
        let store = session.store
        let loop = self.loop
        Task {
            guard let good = try? await store.blockHashes(ofPiece: piece) else { return }
            loop.execute { self.convict(attempts, good: good, piece: piece, session: session) }
        }
    }

    private func convict(_ attempts: [FailedPieceBlocks], good: [UInt8], piece: Int, session: TorrentSession) {
        guard core.torrents[session.handle.wireInfoHash] === session else { return }
        var liars: Set<UInt64> = []
        for attempt in attempts where attempt.blockHashes.count == good.count {
            for (index, sender) in attempt.senders.enumerated() where sender != .local {
                let range = index * 32..<(index + 1) * 32
                if attempt.blockHashes[range] != good[range] { liars.insert(sender.rawValue) }
            }
        }
        for key in liars.sorted() {
            guard let address = session.peerAddresses[key] else { continue }
            // Pushed far below the threshold even when already blacklisted (worn down by shared blame): a proven
            // liar's score does not climb back with the pieces it serves right.
            let update = core.ledger.adjust(address, by: -(max(0, core.ledger.score(of: address)) + 1_000))
            configuration.logger.info(
                "\(session.handle.name): \(address) sent a bad block of piece \(piece), proven once it verified")
            guard update.newlyBlacklisted.contains(address) else { continue }
            for connection in Array(session.connections.values)
            where connection.endpoint.address.unmapped == address {
                core.connections.disconnect(
                    connection, .reputation, detail: "sent a bad block of piece \(piece) (proven once it verified)")
            }
        }
    }
}
