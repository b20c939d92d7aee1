import BTMetainfo
import NIOCore

/// Local commands (seed 001): most act on an active connection only and answer nothing in any other phase;
/// what is ours (pieces, wants, reputation) changes in every phase.
extension PeerStateMachine {
    /// Unchokes the peer (seed 001 `unchoke`).
    public mutating func unchoke(now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions in active.unchoke(now: now, into: &actions) }
        return actions
    }

    /// Chokes the peer (seed 001 `choke`). Queued requests are dropped; with the fast extension each one that
    /// is not for an allowed-fast piece is rejected, as BEP 6 requires.
    public mutating func choke(now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions in active.choke(now: now, into: &actions) }
        return actions
    }

    /// Changes the pieces we want (file priorities changed; nil: every piece) and, with
    /// ``PeerConfiguration/automaticInterest``, sends `interested` or `not interested` if that changes
    /// whether the peer has something we want. A bitfield of the wrong length is treated as nil.
    public mutating func setWantedPieces(_ wanted: Bitfield?, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard
            !state.withActive(&actions, { active, actions in active.setWantedPieces(wanted, now: now, into: &actions) })
        else { return actions }
        state.withLocal(&actions) { local, _ in local.setWanted(wanted) }
        return actions
    }

    /// Sets our interest by hand (seed 001 `interested` / `not_interested`); with
    /// ``PeerConfiguration/automaticInterest`` the machine also does this itself.
    public mutating func setInterested(_ interested: Bool, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions in
            guard interested != active.link.amInterested else { return }
            active.setInterested(interested, now: now, into: &actions)
        }
        return actions
    }

    /// Requests blocks (seed 001 `request`). Blocks that cannot be requested now (choked and not allowed
    /// fast, the peer lacks the piece, invalid address, already in flight, pipeline full, connection not
    /// active) come back at once in a ``PeerAction/requestsReturned(_:)``.
    public mutating func request(_ blocks: [BlockRequest], now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard !state.withActive(&actions, { active, actions in active.request(blocks, now: now, into: &actions) })
        else {
            return actions
        }
        return blocks.isEmpty ? [] : [.requestsReturned(blocks)]
    }

    /// Cancels a request in flight (seed 004 `packet_outgoing_cancel`); a block arriving later is ignored.
    public mutating func cancel(_ block: BlockRequest, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions in active.cancel(block, now: now, into: &actions) }
        return actions
    }

    /// Claims the oldest accepted request that is waiting to be read (``nextRequestToRead``) and returns it:
    /// the caller reads its block and answers with ``blockRead(_:data:now:)``, ``blockSendingFromFile(_:now:)``
    /// or ``blockUnavailable(_:now:)``. The serving queue is the one upload queue: a driver that holds reads
    /// back (a byte cap, an upload rate limit) leaves requests here, unclaimed, and claims them when it can;
    /// a cancel or a choke then drops them here without the driver keeping a list. A ``PeerAction/readBlock(_:)``
    /// action tells the driver that a request joined the queue. Nil when none waits.
    public mutating func claimNextRequest() -> BlockRequest? {
        var actions: [PeerAction] = []
        var claimed: BlockRequest?
        state.withActive(&actions) { active, _ in claimed = active.serving.claimNext() }
        return claimed
    }

    /// The storage read requested by ``PeerAction/readBlock(_:)`` finished: sends the block if the peer still
    /// wants it (not cancelled, not choked away, connection still active).
    public mutating func blockRead(_ request: BlockRequest, data: ByteBuffer, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions in active.blockRead(request, data: data, now: now, into: &actions)
        }
        return actions
    }

    /// The storage read for a request failed: the request is refused (rejected with the fast extension).
    public mutating func blockUnavailable(_ request: BlockRequest, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions in active.blockUnavailable(request, now: now, into: &actions) }
        return actions
    }

    /// We now have `piece`: tells the peer (`have`), updates interest and checks for two seeds. Before the
    /// connection is active (and after it closed) the piece is only recorded: the bitfield sent at the
    /// handshake carries it.
    public mutating func havePiece(_ piece: Int, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard piece >= 0, piece < configuration.pieceCount, !state.local.pieces[piece] else { return actions }
        guard
            !state.withActive(
                &actions,
                { active, actions throws(Closing) in
                    try active.havePiece(piece, now: now, into: &actions)
                })
        else { return actions }
        state.withLocal(&actions) { local, _ in local.pieces[piece] = true }
        return actions
    }

    /// Suggests a piece to the peer (BEP 6 `suggest piece`, seed 001 `send_suggest`).
    public mutating func suggest(piece: Int, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions in active.suggest(piece: piece, now: now, into: &actions) }
        return actions
    }

    /// Lets the peer request `piece` while choked (BEP 6 `allowed fast`, seed 001 `send_allowed_fast`).
    public mutating func allowFast(piece: Int, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions in active.allowFast(piece: piece, now: now, into: &actions) }
        return actions
    }

    /// Sends an extension message if the peer announced the extension (BEP 10); nothing otherwise.
    public mutating func sendExtension(_ payload: ExtensionPayload, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions in active.sendExtension(payload, now: now, into: &actions) }
        return actions
    }
}
