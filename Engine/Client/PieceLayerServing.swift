import BTMetainfo
import BTWire
import NIOCore

/// Serving a torrent's BEP 52 piece layers to peers: BTWire's ``PieceLayerServe`` behind a per-peer rate
/// limit, as ``MetadataServe`` limits `ut_metadata`. A peer may ask at most ``maxRequestsPerSecond`` requests
/// and ``maxHashesPerSecond`` hashes a second (rejected ones count too); past that it gets `hash reject`, so a
/// 49-byte request cannot make us send its 256 KiB answer over and over. Held by the ``TorrentSession`` once
/// its torrent is known.
struct PieceLayerServing: Sendable {
    /// Most requests a peer may make in one second (libtorrent asks one request per 512 pieces).
    static let maxRequestsPerSecond = 50
    /// Most hashes a peer may be sent in one second (256 KiB of hashes).
    static let maxHashesPerSecond = 8192
    /// Most peers whose windows are kept; beyond it the windows are all forgotten (a new second for each).
    static let maxTrackedPeers = 4096
    /// Most block-layer requests a peer may make in one second: each costs a piece read and its hashing.
    static let maxBlockRequestsPerSecond = 4

    private struct Window: Sendable {
        var start: NIODeadline
        var requests = 0
        var hashes = 0
        var blockRequests = 0
    }

    private var serve: PieceLayerServe
    private var windows: [UInt64: Window] = [:]

    /// Serves the piece layers `torrent` has.
    init(torrent: Torrent) { serve = PieceLayerServe(torrent: torrent) }

    /// Answers `request` from `peer`: the hashes with their proof, or a reject (unknown root, a layer we do not
    /// serve, a request outside the tree, or the peer over its rate).
    mutating func answer(_ request: HashRequest, from peer: UInt64, now: NIODeadline) -> PieceLayerServe.Answer {
        if windows[peer] == nil && windows.count >= Self.maxTrackedPeers { windows = [:] }
        var window = windows[peer] ?? Window(start: now)
        if now - window.start >= .seconds(1) { window = Window(start: now) }
        window.requests += 1
        defer { windows[peer] = window }
        guard window.requests <= Self.maxRequestsPerSecond,
            window.hashes + request.length <= Self.maxHashesPerSecond
        else { return .reject(request) }
        let answer = serve.answer(request)
        if case .hashes = answer { window.hashes += request.length }
        return answer
    }

    /// A block-layer `request` from `peer`: the piece to read and hash for it, or nil when it is refused (see
    /// ``PieceLayerServe/pieceForBlockRequest(_:)``) or the peer is over its rate. A peer has one block-layer
    /// request answered at a time (``blockReadsInFlight``).
    mutating func admitBlockRequest(_ request: HashRequest, from peer: UInt64, now: NIODeadline) -> Int? {
        if windows[peer] == nil && windows.count >= Self.maxTrackedPeers { windows = [:] }
        var window = windows[peer] ?? Window(start: now)
        if now - window.start >= .seconds(1) { window = Window(start: now) }
        window.requests += 1
        window.blockRequests += 1
        defer { windows[peer] = window }
        guard window.requests <= Self.maxRequestsPerSecond, window.blockRequests <= Self.maxBlockRequestsPerSecond,
            window.hashes + request.length <= Self.maxHashesPerSecond, !blockReadsInFlight.contains(peer),
            let piece = serve.pieceForBlockRequest(request)
        else { return nil }
        window.hashes += request.length
        blockReadsInFlight.insert(peer)
        return piece
    }

    /// Answers an admitted block-layer request from the hashes of its piece's blocks (nil: the read failed).
    mutating func answerBlocks(_ request: HashRequest, from peer: UInt64, pieceBlockHashes: [UInt8]?)
        -> PieceLayerServe.Answer
    {
        blockReadsInFlight.remove(peer)
        guard let pieceBlockHashes else { return .reject(request) }
        return serve.answer(request, pieceBlockHashes: pieceBlockHashes)
    }

    /// Peers whose block-layer request is being read.
    private(set) var blockReadsInFlight: Set<UInt64> = []

    /// The peer left: its window is forgotten.
    mutating func peerLeft(_ peer: UInt64) {
        windows[peer] = nil
        blockReadsInFlight.remove(peer)
    }
}
