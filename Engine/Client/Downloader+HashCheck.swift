import BTMetainfo
import BTStorage
import BTWire
import NIOCore

/// Hash checks (the seed's `hashcheck`): while a torrent is ``TorrentState/checking`` it has no peers (its
/// connections are closed with reason `hashChecking`, incoming ones are refused), requests nothing, does
/// not announce, and shows the check's progress; the check hashes only once the blocks received before
/// are written (``writesSettled(_:)``); afterwards the picker starts again from what the check
/// found and the torrent resumes downloading or seeding (or stays paused).
extension Downloader {
    /// Puts `session` into the checking state: remembers the peers it dialled (to dial again afterwards)
    /// and closes its connections.
    func beginCheck(_ session: TorrentSession) {
        session.pausedBeforeCheck = session.state == .paused
        let outgoing = session.connections.values.filter { !$0.isIncoming && !$0.isClosed }
            .map { (host: $0.host, port: $0.port, source: $0.machine?.source ?? PeerSource.user) }
        session.state = .checking
        session.checkProgress = 0
        core.connections.disconnectAll(session, reason: .hashChecking)
        for peer in outgoing {
            session.candidates.append(.init(host: peer.host, port: peer.port, source: peer.source))
        }
    }

    /// Completes once every block of `session` handed to storage is written and its outcome (a piece
    /// verified or failed) applied. A recheck waits for it before it hashes: blocks received before the
    /// peers were closed would otherwise land while the check runs, and the check, which forgets the
    /// written blocks of unverified pieces and then sets each piece from its own hash, could hash a piece
    /// before its last block is written (or overwrite a verification the write made meanwhile) and the piece
    /// would be downloaded again.
    func writesSettled(_ session: TorrentSession) -> EventLoopFuture<Void> {
        guard session.pendingWriteBytes > 0 else { return loop.makeSucceededVoidFuture() }
        let promise = loop.makePromise(of: Void.self)
        session.writeWaiters.append(promise)
        return promise.futureResult
    }

    /// Ends a check that found `verified`: rebuilds the picker (keeping its file priorities unless
    /// `priorities` are given), reports the pieces when `reportPieces` (a pass for every good piece, a fail
    /// for every piece that was verified before and is not now), and resumes the torrent.
    func finishCheck(
        _ session: TorrentSession, verified: Bitfield, priorities: [FilePriority]?, reportPieces: Bool
    ) {
        // A torrent paused while it was checked takes the result and stays paused.
        guard core.torrents[session.handle.wireInfoHash] === session,
            session.state == .checking || session.state == .paused
        else { return }
        if session.state == .paused { session.pausedBeforeCheck = true }
        let layout = session.torrent.layout
        let before = session.picker.have
        var picker = PiecePicker<UInt64>(layout: layout, have: verified)
        picker.isSequential = session.picker.isSequential
        for index in layout.files.indices {
            let priority = priorities?[index] ?? session.picker.priority(ofFile: index)
            if priority != picker.priority(ofFile: index) { picker.setPriority(priority, ofFile: index) }
        }
        session.picker = picker
        session.verifiedBytes = verified.setIndexes.reduce(Int64(0)) {
            $0 + TorrentSession.payloadBytes(ofPiece: $1, layout: layout)
        }
        session.checkProgress = nil
        if reportPieces {
            for piece in verified.setIndexes {
                events.emit(.pieceHashPass(session.info, index: piece))
                metrics.pieceVerified()
            }
            for piece in before.setIndexes where !verified[piece] {
                events.emit(.pieceHashFail(session.info, index: piece))
                metrics.hashFailed()
            }
        }
        let complete = session.isComplete
        // A recheck that completes a download finishes it like the last piece would: `torrent_finished`
        // and a `completed` announce (the check run when a torrent is added does neither).
        let newlyFinished = reportPieces && complete && !session.reportedFinished && !session.pausedBeforeCheck
        session.reportedFinished = complete && !newlyFinished
        session.state = session.pausedBeforeCheck ? .paused : (complete ? .seeding : .downloading)
        configuration.logger.info(
            "checked \(session.handle.name): \(verified.setCount) of \(layout.pieceCount) pieces, \(session.state)")
        guard session.state != .paused else { return }
        if newlyFinished { finished(session) }
        if session.schedule != nil { core.announcer.announceDue(session, now: loop.now) }
        core.connections.dialCandidates(session)
    }

    /// Records the progress of `session`'s check.
    func checkProgressed(_ session: TorrentSession, fraction: Double) {
        guard session.state == .checking else { return }
        session.checkProgress = max(session.checkProgress ?? 0, min(1, fraction))
    }
}
