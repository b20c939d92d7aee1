import BTMetainfo
import NIOCore

/// The status of the seeds (000, 001, 002), read from the state that holds each fact: the peer's side is
/// known from the handshake on (and kept after the connection closed); before that it reads as nothing
/// known (choked both ways, not interested, no pieces).
extension PeerStateMachine {
    /// The configuration in force.
    public var configuration: PeerConfiguration { state.local.configuration }

    /// The connection's phase.
    public var phase: PeerPhase {
        switch state {
        case .queued: .queued
        case .connecting: .connecting
        case .handshaking: .handshake
        case .active: .active
        case .closed(let closed): .closed(closed.reason)
        case .modifying: preconditionFailure("the peer state machine is being modified")
        }
    }

    /// We are choking the peer (seed 000 `choked`, seed 001 `am_choking`).
    public var amChoking: Bool { state.link?.amChoking ?? true }
    /// We are interested in the peer (seed 000 `interesting`, seed 001 `am_interested`).
    public var amInterested: Bool { state.link?.amInterested ?? false }
    /// The peer is choking us (seed 000 `remote_choked`, seed 001 `peer_choking`).
    public var peerChoking: Bool { state.link?.peerChoking ?? true }
    /// The peer is interested in us (seed 000 `remote_interested`, seed 001 `peer_interested`).
    public var peerInterested: Bool { state.link?.peerInterested ?? false }
    /// The peer is subject to an optimistic unchoke (set by the choker; a choke clears it).
    public var isOptimisticUnchoke: Bool {
        get { state.local.isOptimisticUnchoke }
        set {
            var none: [PeerAction] = []
            state.withLocal(&none) { local, _ in local.isOptimisticUnchoke = newValue }
        }
    }
    /// The peer failed the request timeout; one request at a time until it delivers (seed 000 `snubbed`).
    public var isSnubbed: Bool { state.link?.isSnubbed ?? false }
    /// The pieces the peer has (seed 000 `pieces`); none before its handshake.
    public var peerPieces: Bitfield { state.link?.pieces ?? Bitfield(count: configuration.pieceCount) }
    /// What the peer has said about its pieces (seed 001 `bitfield_status`).
    public var bitfieldStatus: BitfieldStatus { state.link?.bitfieldStatus ?? .unknown }
    /// The pieces we have.
    public var localPieces: Bitfield { state.local.pieces }
    /// The pieces we want (nil: all); see ``PeerConfiguration/wantedPieces`` and ``setWantedPieces(_:now:)``.
    public var wantedPieces: Bitfield? { state.local.wanted }
    /// The peer's handshake (reserved bytes and peer id), once received.
    public var remoteHandshake: Handshake? { state.link?.handshake }
    /// The peer's extension handshake, once received.
    public var remoteExtensions: ExtensionHandshake? { state.link?.extensions }
    /// Pieces the peer lets us request while it chokes us (BEP 6, received `allowed fast`).
    public var allowedFastFromPeer: Set<Int> { state.link?.allowedFastFromPeer ?? [] }
    /// Pieces we let the peer request while we choke it (BEP 6, sent `allowed fast`).
    public var allowedFastToPeer: Set<Int> { state.link?.allowedFastToPeer ?? [] }
    /// Pieces the peer suggested (BEP 6 `suggest piece`), oldest first, at most 32.
    public var suggestedPieces: [Int] { state.link?.suggestedPieces ?? [] }
    /// The peer's DHT port (BEP 5 `port`), if sent.
    public var dhtPort: UInt16? { state.link?.dhtPort }
    /// Requests sent and not yet answered.
    public var blocksInFlight: Int {
        if case .active(let active) = state { return active.requests.count }
        return 0
    }
    /// The peer's requests accepted and not yet served.
    public var servingQueueLength: Int {
        if case .active(let active) = state { return active.serving.requests.count }
        return 0
    }
    /// The oldest of the peer's accepted requests that the driver has not claimed to read yet
    /// (``claimNextRequest()``); nil when every accepted request is being read, or none is waiting.
    public var nextRequestToRead: BlockRequest? {
        if case .active(let active) = state { return active.serving.nextUnclaimed }
        return nil
    }
    /// How many accepted requests wait to be claimed for reading.
    public var requestsWaitingToBeRead: Int {
        if case .active(let active) = state { return active.serving.requests.count - active.serving.claimedCount }
        return 0
    }
    /// Payload bytes of the accepted requests that wait to be claimed for reading.
    public var bytesWaitingToBeRead: Int {
        if case .active(let active) = state { return active.serving.unclaimedBytes }
        return 0
    }

    /// The peer's reserved bytes (seed 002 `reserved_bytes`).
    public var reservedBytes: ReservedBits? { remoteHandshake?.reserved }
    /// The peer's id (seed 002 `peerid`).
    public var peerID: PeerID? { remoteHandshake?.peerID }
    /// The connection is encrypted (seed 001 `is_encrypted`).
    public var isEncrypted: Bool { configuration.isEncrypted }
    /// Both sides set the BEP 10 bit (seed 000 `support_extensions`).
    public var supportsExtensions: Bool { state.link?.supportsExtensions ?? false }
    /// Both sides set the BEP 6 bit.
    public var supportsFastExtension: Bool { state.link?.supportsFastExtension ?? false }
    /// The peer has every piece (seed 000 `seed`, seed 001 `is_seeder`).
    public var isSeed: Bool { state.link?.isSeed ?? false }
    /// The peer will not download (explicitly, BEP 21, or by being a seed) (seed 000 `upload_only`).
    public var isUploadOnly: Bool { state.link?.isUploadOnly ?? false }
    /// The connection is waiting for a slot (seed 000 `queued`).
    public var isQueued: Bool { if case .queued = state { true } else { false } }
    /// The connection is half-open (seed 000 `connecting`).
    public var isConnecting: Bool { if case .connecting = state { true } else { false } }
    /// Waiting for the handshake (seed 000 `handshake`).
    public var isHandshaking: Bool { if case .handshaking = state { true } else { false } }
    /// Whether the peer has a piece we want and do not have (BEP 3 interest; libtorrent's rule too).
    public var peerHasWantedPiece: Bool { state.link?.hasPiece(wantedBy: state.local) ?? false }

    /// Download rate (bytes/s of block payload, rolling average); 0 before the handshakes.
    public mutating func rateDown(at now: NIODeadline) -> Double { state.withLink { $0.downMeter.rate(at: now) } ?? 0 }
    /// Upload rate (bytes/s of block payload, rolling average); 0 before the handshakes.
    public mutating func rateUp(at now: NIODeadline) -> Double { state.withLink { $0.upMeter.rate(at: now) } ?? 0 }

    /// Bytes of read-buffer storage the decoder keeps alive for unread bytes; for memory tests.
    package var decoderRetainedBytes: Int {
        if case .active(let active) = state { return active.decoderRetainedBytes }
        return 0
    }
    /// Bytes received and not decoded yet: the start of a message whose rest has not arrived (0 unless the
    /// connection is active). Moves the state out and back, no copy: the driver asks after every read.
    package mutating func undecodedBytes() -> Int {
        var none: [PeerAction] = []
        var bytes = 0
        state.withActive(&none) { active, _ in bytes = active.decoder.bufferedBytes }
        return bytes
    }
    /// Whether the rate meters hold their buckets (they have counted payload); for memory tests.
    package var hasRateBuckets: Bool { state.link.map { $0.downMeter.hasBuckets || $0.upMeter.hasBuckets } ?? false }

    /// Whether `request` from the peer is accepted and not yet answered (not served, cancelled, rejected
    /// or dropped by a choke): the driver skips reading a block that is no longer wanted.
    public func isServing(_ request: BlockRequest) -> Bool {
        if case .active(let active) = state { return active.serving.contains(request) }
        return false
    }

    /// Whether `block` is requested from this peer and not yet answered.
    public func isInFlight(_ block: BlockRequest) -> Bool {
        if case .active(let active) = state { return active.requests.contains(block) }
        return false
    }

    /// Whether we may request blocks of `piece` now: the peer has it and either unchokes us or allows it fast.
    public func canRequest(piece: Int) -> Bool {
        if case .active(let active) = state { return active.canRequest(piece: piece) }
        return false
    }

    /// The current pipeline depth: requests we keep in flight (from the peer's `reqq`, the measured rate, and
    /// 1 while snubbed).
    public mutating func pipelineDepth(now: NIODeadline) -> Int {
        let configuration = self.configuration
        return state.withLink { $0.pipelineDepth(now: now, configuration: configuration) }
            ?? Self.pipelineDepth(configuration: configuration, peerQueue: nil, rate: 0)
    }

    /// How many more requests the pipeline takes now: the depth minus the blocks in flight.
    public mutating func requestCapacity(now: NIODeadline) -> Int {
        max(0, pipelineDepth(now: now) - blocksInFlight)
    }
}
