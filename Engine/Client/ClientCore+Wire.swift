import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// What the peers' state machines ask of the engine, and what the engine tells them through their drivers.
extension ClientCore {
    // MARK: Actions

    /// Runs `body`, flushing each connection it wrote to once at the end instead of after every `perform`
    /// (a batch of blocks read for upload: one socket write per peer for the batch, not one per block).
    func deferringFlushes(_ body: () -> Void) {
        let outermost = deferredFlushes == nil
        if outermost { deferredFlushes = [:] }
        body()
        guard outermost, let pending = deferredFlushes else { return }
        deferredFlushes = nil
        for connection in pending.values where !connection.isClosed { connection.driver?.flushIfNeeded() }
    }

    /// Performs actions the engine got from the state machine (``PeerConnection/withMachine(_:)``): the driver
    /// writes the sends and hands the rest back through ``handle(_:on:)``; then tops up the request pipeline.
    /// A connection without a channel yet (a queued dial) has nothing to send: the rest is handled here.
    func perform(_ actions: [PeerAction], on connection: PeerConnection, refill: Bool = true) {
        if let driver = connection.driver {
            let deferring = deferredFlushes != nil
            driver.perform(actions, flush: !deferring)
            if deferring { deferredFlushes?[connection.key] = connection }
        } else {
            for action in actions {
                switch action {
                case .send, .sendHandshake: continue
                default: handle(action, on: connection)
                }
            }
        }
        guard !connection.isClosed else { return }
        if !connection.reportedConnect && connection.isActive { connected(connection) }
        if refill { downloads.fillRequests(connection) }
    }

    /// The driver acted on input from the peer or the clock: report the connection once its handshakes are
    /// done, and top up its requests.
    func acted(_ connection: PeerConnection) {
        guard !connection.isClosed else { return }
        if !connection.reportedConnect && connection.isActive { connected(connection) }
        if connection.session?.metadata != nil { metadata.look(at: connection) }
        downloads.fillRequests(connection)
    }

    /// What the state machine asks of the engine, besides sending (the driver sends).
    func handle(_ action: PeerAction, on connection: PeerConnection) {
        guard !connection.isClosed else { return }
        switch action {
        case .deliver(let block):
            downloads.deliver(block, from: connection)
        case .readBlock:
            // The request joined the machine's serving queue, the one upload queue.
            uploads.startReads(connection)
        case .requestsReturned(let requests):
            guard let session = connection.session else { return }
            for request in requests {
                session.picker.requestCancelled(
                    BlockRequest(piece: request.piece, offset: request.offset, length: request.length),
                    by: connection.key)
            }
        case .peerHas(let availability):
            guard let session = connection.session else { return }
            switch availability {
            case .piece(let piece): session.picker.peerHas(connection.key, piece: piece)
            case .pieces(let pieces): session.picker.peerBitfield(connection.key, pieces)
            case .all: session.picker.peerHasAll(connection.key)
            case .none: session.picker.peerBitfield(connection.key, noPieces(of: connection, session))
            }
            if case .piece(let piece) = availability {
                superSeeds.announced(connection, piece: piece)
            } else {
                superSeeds.announced(connection, piece: nil)
            }
        case .peerChoked(let choked):
            connection.unchokedUsAt = choked ? nil : loop.now  // a peer that chokes us is not snubbing us
        case .peerInterested:
            connection.session?.rechokeSoon = true
        case .requestCancelled:
            // The serving queue dropped it; a read under way finishes and its block is dropped.
            break
        case .event(let event):
            handle(event, on: connection)
        case .disconnect(let reason, let detail):
            if !detail.isEmpty {
                configuration.logger.debug(
                    "peer closing",
                    metadata: ["peer": "\(connection.endpoint)", "reason": "\(reason.name)", "detail": "\(detail)"])
            }
            connections.finishClose(connection, reason: reason)
        case .extensionMessage(.pex(let message)):
            pex.received(message, from: connection)
        case .extensionMessage(.metadata(let message)):
            metadata.received(message, from: connection)
        case .extensionMessage(.other(let name, let payload)) where name == HolepunchMessage.extensionName:
            holepunch.received(payload, from: connection)
        case .forward(.port(let port)):
            dht.peerAnnouncedNode(connection, port: port)
        case .forward(let message) where message.isHashExchange:
            pieceLayers.received(message, from: connection)
        case .send, .sendHandshake, .extensionMessage, .forward:
            break
        }
    }

    func connected(_ connection: PeerConnection) {
        connection.reportedConnect = true
        guard let session = connection.session, let id = connection.machine?.peerID else { return }
        if let other = session.connections.values.first(where: {
            $0 !== connection && $0.isActive && $0.machine?.peerID == id
        }) {
            // Both ends may dial each other at once (both learnt of the other through PEX or the DHT). Each end
            // must drop the same one of the two connections, or both go: keep the one dialled by the end with
            // the lower peer id, as both ends can tell; two of the same direction keep the older.
            let keepOurDial = peerID.bytes.lexicographicallyPrecedes(id.bytes)
            let drop =
                connection.isIncoming != other.isIncoming && connection.isIncoming != keepOurDial ? other : connection
            connections.disconnect(drop, .preexisting, detail: "already connected to peer \(id)")
            if drop === connection { return }
        }
        if connection.machine?.peerPieces.isNoneSet ?? true {
            session.picker.peerBitfield(connection.key, noPieces(of: connection, session))
        }
        if !connection.isIncoming { session.redials.succeeded(host: connection.host, port: connection.port) }
        events.emit(.peerConnect(connection.info))
        if let port = dht.portMessage(for: connection) { perform([port], on: connection, refill: false) }
        pex.connected(connection)
        superSeeds.connected(connection)
    }

    /// An empty bitfield for the picker: the machine's own while it is still empty (shared copy-on-write
    /// rather than another one per peer), else a new one.
    func noPieces(of connection: PeerConnection, _ session: TorrentSession) -> Bitfield {
        if let pieces = connection.machine?.peerPieces, pieces.isNoneSet { return pieces }
        return Bitfield(count: session.picker.layout.pieceCount)
    }

    func handle(_ event: PeerEvent, on connection: PeerConnection) {
        switch event {
        case .packet(let packet):
            // Only for observers: every decision comes from the machine's other actions.
            guard configuration.reportsPacketEvents else { return }
            switch packet.direction {
            case .incoming: events.emit(.packetIncoming(connection.info, packet.packet))
            case .outgoing: events.emit(.packetOutgoing(connection.info, packet.packet))
            }
        case .snubbed:
            // The state stays in the machine (``PeerStatus/isSnubbed``); the choker sees it at the next rechoke.
            connection.session?.rechokeSoon = true
        }
    }
}
