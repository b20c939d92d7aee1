import BTMetainfo
import NIOCore

/// Fetching a torrent's info dictionary from peers (BEP 9 `ut_metadata`) when only its info-hashes are known
/// (a magnet link), without I/O: peers, messages and time in; requests, blame and the verified dictionary out.
///
/// - Sizes: a peer's `metadata_size` (from its extension handshake) of 0 or none means it has no metadata;
///   one above ``Configuration/maxMetadataSize`` is absurd and blamed. Peers may disagree (a poisoning peer):
///   an attempt fetches the size most peers claim, and once the dictionary verifies, every peer that claimed
///   or sent another size is blamed.
/// - Requests: 16 KiB pieces spread over the peers of that size, at most
///   ``Configuration/maxOutstandingRequestsPerPeer`` each; a piece rejected or not answered within
///   ``Configuration/requestTimeout`` is asked of another peer (the same peer only after
///   ``Configuration/retryAfter``).
/// - Verification: the assembled bytes must hash to the info-hashes (`InfoHashes/isHash(ofInfoDictionary:)`:
///   SHA-256 for v2, SHA-1 or truncated SHA-256 for v1, both for a hybrid). On a mismatch every piece is
///   discarded and ``Action/hashMismatch(suppliers:)`` names the suppliers. One supplier alone is a liar and is
///   blamed; several are suspects, so the next attempts take the whole dictionary from one suspect at a time:
///   a copy that fails convicts its peer, a copy that verifies convicts exactly the suspects whose earlier
///   pieces differ from it. So one lying peer among honest ones is found and the download still completes.
///
/// The engine calls ``addPeer(_:metadataSize:now:)`` after each extension handshake advertising
/// `ut_metadata`, passes every decoded ``MetadataMessage`` to ``received(_:from:now:)``, calls
/// ``tick(now:)`` every second or so and ``peerLeft(_:now:)`` on disconnect, and performs the actions.
public struct MetadataFetch<Peer: Hashable & Sendable>: Sendable {
    /// Limits and timings.
    public struct Configuration: Hashable, Sendable {
        /// Largest `metadata_size` believed (16 MiB; libtorrent's default limit is 4 MiB for the whole
        /// dictionary, real dictionaries of large torrents reach a few MiB).
        public var maxMetadataSize: Int
        /// Most requests waiting on one peer.
        public var maxOutstandingRequestsPerPeer: Int
        /// Time a peer has to answer a request before the piece is asked of another peer.
        public var requestTimeout: TimeAmount
        /// Time before a peer that rejected (or did not answer) a piece is asked for it again.
        public var retryAfter: TimeAmount
        /// Most peers used at once; more are ignored.
        public var maxPeers: Int

        /// Creates a configuration.
        public init(
            maxMetadataSize: Int = 16 << 20, maxOutstandingRequestsPerPeer: Int = 2,
            requestTimeout: TimeAmount = .seconds(20), retryAfter: TimeAmount = .seconds(30), maxPeers: Int = 200
        ) {
            self.maxMetadataSize = maxMetadataSize
            self.maxOutstandingRequestsPerPeer = maxOutstandingRequestsPerPeer
            self.requestTimeout = requestTimeout
            self.retryAfter = retryAfter
            self.maxPeers = maxPeers
        }
    }

    /// Why a peer is blamed.
    public enum BlameReason: Hashable, Sendable {
        /// Its `metadata_size` is above the limit.
        case absurdMetadataSize
        /// It claimed or sent a size other than the verified dictionary's (or than its own claim).
        case wrongMetadataSize
        /// Pieces it supplied are not those of the verified dictionary, or its whole copy failed to verify.
        case badMetadata
    }

    /// What the engine does next.
    public enum Action: Hashable, Sendable {
        /// Send a `ut_metadata` message (a request) to the peer.
        case send(MetadataMessage, to: Peer)
        /// The assembled dictionary did not verify; its pieces were discarded. These peers supplied them
        /// (suspects, not yet convicted unless alone: see ``blame(_:_:)``).
        case hashMismatch(suppliers: Set<Peer>)
        /// The peer lied; it is no longer used (the engine lowers its reputation or disconnects it).
        case blame(Peer, BlameReason)
        /// The verified info dictionary. The fetch is over.
        case completed([UInt8])
    }

    /// One metadata piece of the current attempt.
    enum Piece: Sendable {
        case missing
        case requested(Peer, deadline: NIODeadline)
        case received(Peer, [UInt8])
    }

    /// An attempt at assembling a dictionary of one size.
    struct Attempt: Sendable {
        let size: Int
        var pieces: [Piece]
        /// The one peer the whole dictionary is taken from, while suspects are being told apart.
        var isolated: Peer?
        /// Per piece, peers not to ask for it again before an instant.
        var avoid: [Int: [Peer: NIODeadline]] = [:]

        init(size: Int, isolated: Peer?) {
            self.size = size
            self.pieces = Array(
                repeating: .missing, count: (size + MetadataMessage.pieceSize - 1) / MetadataMessage.pieceSize)
            self.isolated = isolated
        }

        var receivedCount: Int {
            pieces.reduce(0) {
                if case .received = $1 { return $0 + 1 }
                return $0
            }
        }
    }

    /// The fetch's states.
    enum State: Sendable {
        /// No usable peer has told us a size yet.
        case waitingForSize
        /// Assembling pieces.
        case fetching(Attempt)
        /// Verified; nothing more to do.
        case completed([UInt8])
    }

    struct PeerInfo: Sendable {
        let claimedSize: Int
        let order: Int
    }

    /// A piece from an attempt that failed, remembered (as a digest) to convict its supplier later.
    struct SuspectPiece: Sendable {
        let peer: Peer
        let piece: Int
        let digest: [UInt8]
    }

    /// The info-hashes the dictionary must match.
    public let infoHashes: InfoHashes
    /// The limits in force.
    public let configuration: Configuration
    var state: State = .waitingForSize
    var peers: [Peer: PeerInfo] = [:]
    var nextOrder = 0
    var blamed: Set<Peer> = []
    var suspects: Set<Peer> = []
    var suspectPieces: [SuspectPiece] = []
    var isolationTried: Set<Peer> = []

    /// Most suspect pieces remembered (a dictionary of 16 MiB has 1024 pieces).
    static var maxSuspectPieces: Int { 8192 }

    /// Starts fetching the dictionary named by `infoHashes`.
    public init(infoHashes: InfoHashes, configuration: Configuration = Configuration()) {
        self.infoHashes = infoHashes
        self.configuration = configuration
    }

    /// Pieces received in the current attempt and the number of pieces; nil while no size is known.
    public var progress: (received: Int, total: Int)? {
        switch state {
        case .waitingForSize: return nil
        case .fetching(let attempt): return (attempt.receivedCount, attempt.pieces.count)
        case .completed(let bytes):
            let count = (bytes.count + MetadataMessage.pieceSize - 1) / MetadataMessage.pieceSize
            return (count, count)
        }
    }

    /// The size being fetched, or of the verified dictionary.
    public var metadataSize: Int? {
        switch state {
        case .waitingForSize: return nil
        case .fetching(let attempt): return attempt.size
        case .completed(let bytes): return bytes.count
        }
    }

    /// The verified dictionary, once complete.
    public var infoDictionary: [UInt8]? {
        if case .completed(let bytes) = state { return bytes }
        return nil
    }

    /// The earliest instant at which ``tick(now:)`` has something to do (a request's deadline), if any.
    public var nextDeadline: NIODeadline? {
        guard case .fetching(let attempt) = state else { return nil }
        return attempt.pieces.compactMap {
            if case .requested(_, let deadline) = $0 { return deadline }
            return nil
        }.min()
    }

    /// A peer advertised `ut_metadata` with `metadataSize` (nil or 0: it has none).
    public mutating func addPeer(_ peer: Peer, metadataSize: Int?, now: NIODeadline) -> [Action] {
        if case .completed = state { return [] }
        guard let size = metadataSize, size > 0, !blamed.contains(peer), peers[peer] == nil else { return [] }
        guard size <= configuration.maxMetadataSize else { return blame(peer, .absurdMetadataSize, now: now) }
        guard peers.count < configuration.maxPeers else { return [] }
        peers[peer] = PeerInfo(claimedSize: size, order: nextOrder)
        nextOrder += 1
        switch state {
        case .waitingForSize:
            startAttempt()
        case .fetching(let attempt) where !peers.values.contains(where: { $0.claimedSize == attempt.size }):
            // Nobody of the attempt's size is left: the pieces kept for them give way to this size.
            startAttempt()
        default:
            break
        }
        return schedule(now: now)
    }

    /// The peer is gone: its requests go to others.
    public mutating func peerLeft(_ peer: Peer, now: NIODeadline) -> [Action] {
        guard peers.removeValue(forKey: peer) != nil else { return [] }
        return forget(peer, discardingItsPieces: false, now: now)
    }

    /// A `ut_metadata` message from `peer`. Requests are not the fetcher's (see ``MetadataServe``): they give
    /// no action.
    public mutating func received(_ message: MetadataMessage, from peer: Peer, now: NIODeadline) -> [Action] {
        guard case .fetching(var attempt) = state, let info = peers[peer] else { return [] }
        switch message {
        case .request:
            return []
        case .reject(let piece):
            guard piece >= 0, piece < attempt.pieces.count, case .requested(peer, _) = attempt.pieces[piece] else {
                return []
            }
            attempt.pieces[piece] = .missing
            attempt.avoid[piece, default: [:]][peer] = now + configuration.retryAfter
            if attempt.isolated == peer {
                // The suspect cannot give the whole dictionary alone: try the next one.
                isolationTried.insert(peer)
                startAttempt()
            } else {
                state = .fetching(attempt)
            }
            return schedule(now: now)
        case .data(let piece, let totalSize, let data):
            // A size other than its own claim is a lie; a parked peer (another size) was not asked.
            guard totalSize == info.claimedSize else { return blame(peer, .wrongMetadataSize, now: now) }
            guard info.claimedSize == attempt.size else { return [] }
            guard piece >= 0, piece < attempt.pieces.count else { return blame(peer, .badMetadata, now: now) }
            let expected = min(MetadataMessage.pieceSize, attempt.size - piece * MetadataMessage.pieceSize)
            guard data.count == expected else { return blame(peer, .badMetadata, now: now) }
            switch attempt.pieces[piece] {
            case .requested(let asked, _) where asked == peer:
                break
            case .missing where attempt.isolated == nil || attempt.isolated == peer:
                // A late answer to a request that timed out: still useful.
                break
            default:
                return []
            }
            attempt.pieces[piece] = .received(peer, data)
            state = .fetching(attempt)
            if attempt.receivedCount == attempt.pieces.count { return finish(attempt, now: now) }
            return schedule(now: now)
        }
    }

    /// Time passed: requests past their deadline go to other peers.
    public mutating func tick(now: NIODeadline) -> [Action] {
        guard case .fetching(var attempt) = state else { return [] }
        var isolationFailed = false
        for index in attempt.pieces.indices {
            guard case .requested(let peer, let deadline) = attempt.pieces[index], deadline <= now else { continue }
            attempt.pieces[index] = .missing
            attempt.avoid[index, default: [:]][peer] = now + configuration.retryAfter
            if attempt.isolated == peer { isolationFailed = true }
        }
        for (piece, entries) in attempt.avoid {
            let live = entries.filter { $0.value > now }
            attempt.avoid[piece] = live.isEmpty ? nil : live
        }
        if isolationFailed, let isolated = attempt.isolated {
            isolationTried.insert(isolated)
            startAttempt()
        } else {
            state = .fetching(attempt)
        }
        return schedule(now: now)
    }

    // MARK: internals

    /// Blames and drops a peer.
    mutating func blame(_ peer: Peer, _ reason: BlameReason, now: NIODeadline) -> [Action] {
        if blamed.count < 4 * configuration.maxPeers { blamed.insert(peer) }
        suspects.remove(peer)
        let known = peers.removeValue(forKey: peer) != nil
        return [.blame(peer, reason)] + (known ? forget(peer, discardingItsPieces: true, now: now) : [])
    }

    /// Takes a departed or blamed peer's requests back (and a blamed peer's pieces: they are not trusted).
    mutating func forget(_ peer: Peer, discardingItsPieces: Bool, now: NIODeadline) -> [Action] {
        guard case .fetching(var attempt) = state else { return [] }
        if attempt.isolated == peer {
            isolationTried.insert(peer)
            startAttempt()
            return schedule(now: now)
        }
        for index in attempt.pieces.indices {
            if case .requested(peer, _) = attempt.pieces[index] { attempt.pieces[index] = .missing }
            if discardingItsPieces, case .received(peer, _) = attempt.pieces[index] {
                attempt.pieces[index] = .missing
            }
        }
        if !peers.values.contains(where: { $0.claimedSize == attempt.size })
            && (attempt.receivedCount == 0 || !peers.isEmpty)
        {
            // Nobody left with this size: another size may have more support now.
            startAttempt()
        } else {
            state = .fetching(attempt)
        }
        return schedule(now: now)
    }

    /// Starts a new attempt at the size most peers claim (ties: the one claimed first), taking the whole
    /// dictionary from one untried suspect while suspects remain.
    mutating func startAttempt() {
        var votes: [Int: (count: Int, first: Int)] = [:]
        for info in peers.values {
            let vote = votes[info.claimedSize] ?? (0, info.order)
            votes[info.claimedSize] = (vote.count + 1, min(vote.first, info.order))
        }
        guard
            let size = votes.max(by: {
                $0.value.count < $1.value.count || ($0.value.count == $1.value.count && $0.value.first > $1.value.first)
            })?
            .key
        else {
            state = .waitingForSize
            return
        }
        let candidates = peers.filter {
            suspects.contains($0.key) && !isolationTried.contains($0.key) && $0.value.claimedSize == size
        }
        let isolated = candidates.min { $0.value.order < $1.value.order }?.key
        state = .fetching(Attempt(size: size, isolated: isolated))
    }

    /// Assembles and verifies a complete attempt.
    mutating func finish(_ attempt: Attempt, now: NIODeadline) -> [Action] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(attempt.size)
        var suppliers: Set<Peer> = []
        var supplied: [(peer: Peer, data: [UInt8])] = []
        for piece in attempt.pieces {
            guard case .received(let peer, let data) = piece else { return [] }
            bytes += data
            suppliers.insert(peer)
            supplied.append((peer, data))
        }
        if infoHashes.isHash(ofInfoDictionary: bytes) {
            state = .completed(bytes)
            var actions: [Action] = []
            var convicted: Set<Peer> = []
            for suspect in suspectPieces where !convicted.contains(suspect.peer) {
                let start = suspect.piece * MetadataMessage.pieceSize
                let end = min(start + MetadataMessage.pieceSize, bytes.count)
                if start >= bytes.count || MerkleTree.sha256(bytes[start..<end]) != suspect.digest {
                    convicted.insert(suspect.peer)
                }
            }
            for (peer, info) in peers where info.claimedSize != bytes.count { convicted.insert(peer) }
            for peer in convicted.sorted(by: { (peers[$0]?.order ?? -1) < (peers[$1]?.order ?? -1) }) {
                blamed.insert(peer)
                actions.append(
                    .blame(
                        peer,
                        peers[peer].map { $0.claimedSize != bytes.count } == true ? .wrongMetadataSize : .badMetadata))
            }
            peers = [:]
            suspectPieces = []
            suspects = []
            return actions + [.completed(bytes)]
        }
        var actions: [Action] = [.hashMismatch(suppliers: suppliers)]
        if suppliers.count == 1, let liar = suppliers.first {
            // The whole copy came from one peer: it lied (or its size did).
            isolationTried.insert(liar)
            actions += blame(liar, .badMetadata, now: now).filter {
                if case .send = $0 { return false }
                return true
            }
            startAttempt()
        } else {
            suspects.formUnion(suppliers)
            for (index, piece) in supplied.enumerated() where suspectPieces.count < Self.maxSuspectPieces {
                suspectPieces.append(
                    SuspectPiece(peer: piece.peer, piece: index, digest: MerkleTree.sha256(piece.data)))
            }
            startAttempt()
        }
        return actions + schedule(now: now)
    }

    /// Assigns missing pieces to peers with room.
    mutating func schedule(now: NIODeadline) -> [Action] {
        guard case .fetching(var attempt) = state else { return [] }
        var candidates = peers.filter { $0.value.claimedSize == attempt.size }
        if let isolated = attempt.isolated { candidates = candidates.filter { $0.key == isolated } }
        let ordered = candidates.sorted { $0.value.order < $1.value.order }.map(\.key)
        guard !ordered.isEmpty else { return [] }
        var outstanding: [Peer: Int] = [:]
        for piece in attempt.pieces {
            if case .requested(let peer, _) = piece { outstanding[peer, default: 0] += 1 }
        }
        var actions: [Action] = []
        for index in attempt.pieces.indices {
            guard case .missing = attempt.pieces[index] else { continue }
            let avoided = attempt.avoid[index] ?? [:]
            let choice = ordered.filter {
                outstanding[$0, default: 0] < configuration.maxOutstandingRequestsPerPeer
                    && (avoided[$0].map { $0 <= now } ?? true)
            }.min { outstanding[$0, default: 0] < outstanding[$1, default: 0] }
            guard let peer = choice else { continue }
            outstanding[peer, default: 0] += 1
            attempt.pieces[index] = .requested(peer, deadline: now + configuration.requestTimeout)
            actions.append(.send(.request(piece: index), to: peer))
        }
        state = .fetching(attempt)
        return actions
    }
}
