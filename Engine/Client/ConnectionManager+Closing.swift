import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// What peers read and write, and closing connections.
extension ConnectionManager {

    /// Bytes arrived from the peer (the driver decodes them).
    func read(_ bytes: Int, on connection: PeerConnection) {
        if events.isObserved(.peerRead) { events.emit(.peerRead(connection.info, length: bytes)) }
    }

    /// Bytes were handed to the peer's channel: a peer that lets them pile up past the bound is dropped.
    func wrote(_ bytes: Int, on connection: PeerConnection) {
        if events.isObserved(.peerWrite) { events.emit(.peerWrite(connection.info, length: bytes)) }
        // Bytes plus a cost per message and write (BTWire's PeerOutputBudget): 17-byte rejects cost more
        // than their bytes.
        let queued = connection.driver?.queuedOutputCost ?? 0
        if queued > configuration.maximumQueuedOutputBytesPerPeer {
            // Later in this loop turn: the driver is still writing the batch that got us here.
            loop.execute { [self] in
                disconnect(connection, .sendBufferFull, detail: "\(queued) bytes (with overheads) queued and not read")
            }
        }
    }

    func disconnect(_ connection: PeerConnection, _ reason: DisconnectReason, detail: String) {
        guard !connection.isClosed else { return }
        let now = loop.now
        guard let actions = connection.withMachine({ $0.disconnect(reason, detail: detail, now: now) }) else {
            finishClose(connection, reason: reason)
            return
        }
        core.perform(actions, on: connection)
        if !connection.isClosed { finishClose(connection, reason: reason) }
    }

    func finishClose(_ connection: PeerConnection, reason closeReason: DisconnectReason) {
        guard !connection.isClosed else { return }
        // Our MSE handshake failed: that is the reason reported (seed 002's HANDSHAKE_SYNC_DH5), whatever the
        // socket did next; redials still follow how it closed (a peer that had not added the torrent yet).
        let reason = connection.encryptionFailed ? DisconnectReason.mseSyncFailure : closeReason
        connection.isClosed = true
        connection.channel?.close(promise: nil)
        byKey[connection.key] = nil
        core.rates.removePeer(connection.key)
        if let session = connection.session {
            session.connections[connection.key] = nil
            session.peerClosed(connection.key)
            session.picker.peerLeft(connection.key)
            core.metadata.closed(connection, session: session)
            if !connection.isIncoming {
                session.dialled.remove("\(connection.host):\(connection.port)")
                if reason == .bothSeeds { core.downloads.partedUploadOnly(connection, session: session) }
                // A peer that did not take a hybrid's v2 identity (our MSE handshake keyed by it failed, or its
                // handshake named another hash) is dialled again at once by the v1 hash; one that refused our
                // MSE handshake otherwise, in plaintext (libtorrent's "enabled" policy). The redial below is
                // then its back-off after that.
                let address = "\(connection.host):\(connection.port)"
                let refusedV2 = connection.encryptionFailed || closeReason == .handshakeInfoHashMismatch
                let running = !core.isShutDown && core.torrents[session.handle.wireInfoHash] === session
                if running && connection.dialledAsV2 && !connection.reportedConnect && refusedV2 {
                    if session.v1IdentityPeers.count < 4096 { session.v1IdentityPeers.insert(address) }
                    configuration.logger.info(
                        "\(connection.endpoint) did not take the hybrid's v2 info-hash: dialling it by the v1 hash")
                    redialAtOnce(connection, session: session)
                } else if running && connection.encryptionFailed
                    && (session.limits.encryption ?? core.encryption) == .preferred
                {
                    if session.plaintextPeers.count < 4096 { session.plaintextPeers.insert(address) }
                    redialAtOnce(connection, session: session)
                }
                // A dial that got no handshake through: a peer introduced by a holepunch-speaking peer may be
                // reached through a rendezvous (BEP 55).
                if !connection.reportedConnect && !core.isShutDown
                    && [.ioError, .byRemote, .handshakeTimeout, .mseSyncFailure].contains(reason)
                {
                    core.holepunch.dialFailed(host: connection.host, port: connection.port, session: session)
                }
                if PeerRedials.retries(after: closeReason), running {
                    // Once per address (bounded): a peer that closes after taking our metadata is redialled soon.
                    let quickly =
                        connection.servedMetadata && reason == .byRemote && session.quickRedials.count < 4096
                        && session.quickRedials.insert(address).inserted
                    session.redials.failed(
                        host: connection.host, port: connection.port, source: connection.machine?.source ?? .tracker,
                        wasConnected: connection.reportedConnect, quickly: quickly, now: loop.now)
                }
            }
            if connection.reportedConnect { session.rechokeSoon = true }
            slotFreed(by: connection, of: session)
        }
        events.emit(.peerDisconnect(connection.info, reason: reason))
        metrics.disconnected(reason)
        dialQueue[connection.key] = nil
        for key in limiter.closed(connection.key) { startQueuedDial(key) }
    }

    /// Dials `connection`'s address again for `session` once the current event has been handled (its
    /// `dialled` entry is gone by then), from the same source.
    func redialAtOnce(_ connection: PeerConnection, session: TorrentSession) {
        let (host, port, source) = (connection.host, connection.port, connection.machine?.source ?? .tracker)
        loop.execute { [self] in addPeer(host: host, port: port, source: source, to: session) }
    }

    func disconnectAll(_ session: TorrentSession, reason: DisconnectReason) {
        for connection in Array(session.connections.values) {
            disconnect(connection, reason, detail: "closed locally")
        }
        for (key, entry) in dialQueue where entry.session === session {
            dialQueue[key] = nil
            for next in limiter.closed(key) { startQueuedDial(next) }
        }
        session.dialled.removeAll()
    }
}
