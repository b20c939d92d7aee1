import BTMetainfo
import NIOCore

/// Fetching the BEP 52 piece layers a v2 or hybrid torrent lacks (added from a magnet, or from a .torrent
/// without `piece layers`), from peers, with proofs, without I/O.
///
/// For each file larger than a piece whose layer is missing (`Torrent/filesMissingPieceLayers`), the piece
/// layer (padded to a power of two) is asked for in runs of up to ``Configuration/maxHashesPerRequest``
/// hashes, each with the uncle hashes up to the file's `pieces root`. A run is kept only if it and its proof
/// hash up to the root; a peer whose answer does not is blamed and not asked again. Layers are fetched
/// eagerly, so the complete .torrent (with `piece layers`) can be written as soon as they verify.
///
/// The engine calls ``addPeer(_:now:)`` for peers that speak v2, passes decoded ``HashesMessage``s and
/// rejected ``HashRequest``s in (``PeerMessage/hashes(_:)``, ``PeerMessage/hashReject(_:)``), calls ``tick(now:)`` about every second and ``peerLeft(_:now:)``, and sends
/// the requests. ``layers`` holds what is verified; ``isComplete`` says when every layer is.
public struct PieceLayerFetch<Peer: Hashable & Sendable>: Sendable {
    /// Limits and timings.
    public struct Configuration: Hashable, Sendable {
        /// Hashes asked for in one request (libtorrent asks for 512).
        public var maxHashesPerRequest: Int
        /// Most requests waiting on one peer.
        public var maxOutstandingRequestsPerPeer: Int
        /// Time a peer has to answer before the run is asked of another peer.
        public var requestTimeout: TimeAmount
        /// Time before a peer that rejected (or did not answer) a run is asked for it again.
        public var retryAfter: TimeAmount

        /// Creates a configuration.
        public init(
            maxHashesPerRequest: Int = 512, maxOutstandingRequestsPerPeer: Int = 4,
            requestTimeout: TimeAmount = .seconds(20), retryAfter: TimeAmount = .seconds(30)
        ) {
            precondition(maxHashesPerRequest > 0 && maxHashesPerRequest.nonzeroBitCount == 1)
            self.maxHashesPerRequest = maxHashesPerRequest
            self.maxOutstandingRequestsPerPeer = maxOutstandingRequestsPerPeer
            self.requestTimeout = requestTimeout
            self.retryAfter = retryAfter
        }
    }

    /// What the engine does next.
    public enum Action: Hashable, Sendable {
        /// Send this `hash request` to the peer.
        case send(HashRequest, to: Peer)
        /// The peer sent hashes that do not prove up to the pieces root (or answered what was not asked); it
        /// is no longer asked.
        case blame(Peer)
        /// The piece layer of the file with this pieces root is verified and kept in ``layers``.
        case layerVerified(piecesRoot: [UInt8])
    }

    /// One file's missing layer.
    struct FileLayer: Sendable {
        let root: [UInt8]
        /// Real pieces of the file.
        let pieceCount: Int
        /// The layer's width in the tree (pieces rounded up to a power of two).
        let width: Int
        /// Hashes per run.
        let runLength: Int
        /// The verified runs' hashes, by run.
        var runs: [[UInt8]?]
    }

    /// A run asked of a peer.
    struct Outstanding: Sendable {
        let peer: Peer
        let deadline: NIODeadline
    }

    /// The limits in force.
    public let configuration: Configuration
    /// The torrent's piece layer (log2 of piece length / 16 KiB).
    public let pieceLayer: Int
    /// Verified piece layers, by pieces root (only the file's real pieces, as in `piece layers`).
    public private(set) var layers: [[UInt8]: [UInt8]] = [:]
    var files: [FileLayer] = []
    var outstanding: [HashRequest: Outstanding] = [:]
    var avoid: [HashRequest: [Peer: NIODeadline]] = [:]
    var peers: [Peer] = []
    var blamed: Set<Peer> = []

    /// Plans the layers `torrent` lacks (none for a v1 torrent).
    public init(torrent: Torrent, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.pieceLayer = MerkleTree.levels(perPiece: torrent.pieceLength)
        var seen: Set<[UInt8]> = []
        for index in torrent.filesMissingPieceLayers {
            let file = torrent.files[index]
            guard let root = file.piecesRoot, seen.insert(root).inserted else { continue }
            let pieces = Int((file.length + Int64(torrent.pieceLength) - 1) / Int64(torrent.pieceLength))
            var width = 1
            while width < pieces { width <<= 1 }
            let run = min(width, configuration.maxHashesPerRequest)
            files.append(
                FileLayer(
                    root: root, pieceCount: pieces, width: width, runLength: run,
                    runs: Array(repeating: nil, count: (pieces + run - 1) / run)))
        }
    }

    /// Whether every missing layer is verified.
    public var isComplete: Bool { files.allSatisfy { layers[$0.root] != nil } }

    /// Runs verified and runs in all (for a progress display).
    public var progress: (verified: Int, total: Int) {
        let total = files.reduce(0) { $0 + $1.runs.count }
        let verified = files.reduce(0) { $0 + $1.runs.filter { $0 != nil }.count }
        return (verified, total)
    }

    /// The request for run `run` of file `file`.
    func request(file: Int, run: Int) -> HashRequest {
        let layer = files[file]
        let treeHeight = layer.width.trailingZeroBitCount
        // Proof up to the root: the run covers log2(runLength) layers, one uncle for each layer above it.
        return HashRequest(
            piecesRoot: layer.root, baseLayer: pieceLayer, index: run * layer.runLength, length: layer.runLength,
            proofLayers: max(0, treeHeight - 1))
    }

    /// A peer that speaks BEP 52 joined.
    public mutating func addPeer(_ peer: Peer, now: NIODeadline) -> [Action] {
        guard !blamed.contains(peer), !peers.contains(peer) else { return [] }
        peers.append(peer)
        return schedule(now: now)
    }

    /// The peer left: its runs go to others.
    public mutating func peerLeft(_ peer: Peer, now: NIODeadline) -> [Action] {
        peers.removeAll { $0 == peer }
        outstanding = outstanding.filter { $0.value.peer != peer }
        return schedule(now: now)
    }

    /// A `hash reject` of `request` from `peer`.
    public mutating func rejected(_ request: HashRequest, by peer: Peer, now: NIODeadline) -> [Action] {
        guard let asked = outstanding[request], asked.peer == peer else { return [] }
        outstanding[request] = nil
        avoid[request, default: [:]][peer] = now + configuration.retryAfter
        return schedule(now: now)
    }

    /// A `hashes` message from `peer`: verified against the file's root and kept, or the peer is blamed.
    public mutating func received(_ message: HashesMessage, from peer: Peer, now: NIODeadline) -> [Action] {
        guard let asked = outstanding[message.request], asked.peer == peer else {
            // Not asked of this peer (or already answered): ignored, as libtorrent ignores it.
            return []
        }
        outstanding[message.request] = nil
        guard let fileIndex = files.firstIndex(where: { $0.root == message.request.piecesRoot }) else { return [] }
        let run = message.request.index / files[fileIndex].runLength
        let layer = files[fileIndex]
        let baseHashes = message.baseHashes
        guard (try? message.validated()) != nil,
            MerkleTree.root(ofRun: baseHashes, index: message.request.index, uncles: message.uncles) == layer.root
        else {
            blamed.insert(peer)
            peers.removeAll { $0 == peer }
            outstanding = outstanding.filter { $0.value.peer != peer }
            return [.blame(peer)] + schedule(now: now)
        }
        var actions: [Action] = []
        if layer.runs[run] == nil {
            // Keep only the file's real pieces: the rest of the run is padding.
            let real = max(0, min(layer.runLength, layer.pieceCount - run * layer.runLength))
            files[fileIndex].runs[run] = Array(baseHashes[0..<(real * 32)])
            if files[fileIndex].runs.allSatisfy({ $0 != nil }) {
                layers[layer.root] = files[fileIndex].runs.flatMap { $0! }
                actions.append(.layerVerified(piecesRoot: layer.root))
            }
        }
        return actions + schedule(now: now)
    }

    /// Time passed: runs past their deadline go to other peers.
    public mutating func tick(now: NIODeadline) -> [Action] {
        for (request, asked) in outstanding where asked.deadline <= now {
            outstanding[request] = nil
            avoid[request, default: [:]][asked.peer] = now + configuration.retryAfter
        }
        avoid = avoid.compactMapValues {
            let live = $0.filter { $0.value > now }
            return live.isEmpty ? nil : live
        }
        return schedule(now: now)
    }

    /// Asks peers with room for the runs nobody is asked for.
    mutating func schedule(now: NIODeadline) -> [Action] {
        guard !peers.isEmpty else { return [] }
        var load: [Peer: Int] = [:]
        for asked in outstanding.values { load[asked.peer, default: 0] += 1 }
        var actions: [Action] = []
        for file in files.indices {
            for run in files[file].runs.indices where files[file].runs[run] == nil {
                let request = request(file: file, run: run)
                guard outstanding[request] == nil else { continue }
                let avoided = avoid[request] ?? [:]
                let choice = peers.filter {
                    load[$0, default: 0] < configuration.maxOutstandingRequestsPerPeer
                        && (avoided[$0].map { $0 <= now } ?? true)
                }.min { load[$0, default: 0] < load[$1, default: 0] }
                guard let peer = choice else { continue }
                load[peer, default: 0] += 1
                outstanding[request] = Outstanding(peer: peer, deadline: now + configuration.requestTimeout)
                actions.append(.send(request, to: peer))
            }
        }
        return actions
    }
}
