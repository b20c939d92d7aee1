import BTMetainfo
import NIOCore

extension PeerStateMachine {
    /// A peer's availability said before we knew the piece count (a magnet link whose info dictionary is
    /// being fetched, BEP 9): kept as sent, bounded, and checked against the real count once it is known.
    struct PendingAvailability: Sendable {
        /// Most `have` messages kept; later ones are dropped (a peer that has that many pieces to tell sends a
        /// bitfield, and what is lost is only availability, learnt again from its later `have`s).
        static let maximumHaves = 65_536

        /// The peer's `bitfield` payload, unchecked.
        private(set) var bitfield: [UInt8]?
        /// Pieces of the peer's `have` messages, unchecked.
        private(set) var haves: Set<Int> = []
        /// `have all` (true) or `have none` (false), when sent.
        private(set) var all: Bool?

        /// Keeps an availability message; true when `message` was one (it needs nothing else now). Each is
        /// first counted in the peer's input `budget` as in the active phase: a `have` already kept (or beyond
        /// ``maximumHaves``) is redundant; a bitfield after a bitfield or `have all`/`have none`, and any `have
        /// all`/`have none`, are availability messages (a peer says its pieces once, then `have`s; each bitfield
        /// costs a copy of its payload).
        /// - Throws: past the budget, or `have all` / `have none` without the fast extension (BEP 6).
        mutating func record(
            _ message: PeerMessage, fast: Bool, budget: inout InputBudget, now: NIODeadline, limits: PeerInputLimits
        ) throws(Closing) -> Bool {
            switch message {
            case .bitfield(let bits):
                if bitfield != nil || all != nil { try budget.count(.availability, now: now, limits: limits) }
                bitfield = Array(bits.readableBytesView)
            case .have(let piece):
                guard !haves.contains(piece), haves.count < Self.maximumHaves else {
                    try budget.count(.redundantHave, now: now, limits: limits)
                    return true
                }
                haves.insert(piece)
            case .haveAll, .haveNone:
                try budget.count(.availability, now: now, limits: limits)
                guard fast else {
                    throw Closing(
                        .protocolViolation, "fast-extension message \(message.id ?? 0) without the fast extension")
                }
                all = message == .haveAll
                bitfield = nil
            default:
                return false
            }
            return true
        }

        /// The peer's pieces among `count`.
        /// - Throws: a bitfield of another length or with spare bits set, or a `have` past the last piece.
        func pieces(count: Int) throws(Closing) -> Bitfield {
            var pieces = Bitfield(count: count, allSet: all == true)
            if let bitfield {
                guard let parsed = Bitfield(bytes: bitfield, count: count) else {
                    throw Closing(.malformedPacket, "bitfield does not match \(count) pieces")
                }
                pieces = parsed.union(pieces)
            }
            for piece in haves {
                guard piece >= 0 && piece < count else {
                    throw Closing(.malformedPacket, "have \(piece) of \(count) pieces")
                }
                pieces[piece] = true
            }
            return pieces
        }

        /// Whether the peer said anything about its pieces.
        var isEmpty: Bool { bitfield == nil && haves.isEmpty && all == nil }
    }

    /// The metadata of a magnet arrived: the machine takes `configuration` (the real piece count, our pieces
    /// and wants) in whatever phase it is. An active connection checks what the peer said about its pieces
    /// against the count (a mismatch closes it with ``DisconnectReason/malformedPacket``), reports it
    /// (``PeerAction/peerHas(_:)``), sends our availability (bitfield or `have none`, allowed fast) and
    /// updates interest. Nothing happens unless the machine was made with
    /// ``PeerConfiguration/awaitsMetadata`` and `configuration` has it off, for the same info-hash.
    public mutating func metadataArrived(_ configuration: PeerConfiguration, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        if case .closed = state { return actions }
        let current = state.local.configuration
        guard current.awaitsMetadata, !configuration.awaitsMetadata, configuration.infoHash == current.infoHash
        else { return actions }
        if case .active = state {
            state.withActive(&actions) { active, actions throws(Closing) in
                try active.metadataArrived(configuration, now: now, into: &actions)
            }
        } else {
            state.withLocal(&actions) { local, _ in local.adopt(configuration) }
        }
        return actions
    }
}

extension PeerStateMachine.Local {
    /// Takes the configuration of a torrent whose metadata arrived.
    mutating func adopt(_ configuration: PeerConfiguration) {
        self.configuration = configuration
        self.pieces = configuration.localPieces
        setWanted(configuration.wantedPieces)
    }
}

extension PeerStateMachine.Active {
    /// See ``PeerStateMachine/metadataArrived(_:now:)``.
    mutating func metadataArrived(
        _ configuration: PeerConfiguration, now: NIODeadline, into actions: inout [PeerAction]
    )
        throws(PeerStateMachine.Closing)
    {
        local.adopt(configuration)
        decoder.limits.pieceCount = configuration.pieceCount
        let said = !link.pending.isEmpty
        link.pieces = try link.pending.pieces(count: configuration.pieceCount)
        link.pending = PeerStateMachine.PendingAvailability()
        if said {
            link.bitfieldStatus = link.pieces.isAllSet ? .all : (link.pieces.isNoneSet ? .none : .partial)
        }
        announceAvailability(now: now, into: &actions)
        actions.append(.peerHas(.pieces(link.pieces)))
        updateInterest(now: now, into: &actions)
        try checkBothSeeds()
    }
}
