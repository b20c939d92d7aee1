import BTMetainfo
import BTWire
import NIOCore

/// A v2 or hybrid torrent whose info dictionary is known but whose BEP 52 piece layers are not (a magnet
/// after its metadata, or a .torrent without `piece layers`): the torrent, and BTWire's ``PieceLayerFetch``
/// over the connected peers that speak v2. Held in ``MagnetMetadata/layers`` while the session is
/// ``TorrentState/fetchingMetadata``; ``torrentWithLayers`` is adopted once ``PieceLayerFetch/isComplete``.
struct PendingPieceLayers: Sendable {
    /// The torrent without (some of) its piece layers.
    let torrent: Torrent
    /// The fetch; its peers are connection keys.
    var fetch: PieceLayerFetch<UInt64>
    /// Connections already looked at (told to ``fetch`` when they speak v2).
    var seen: Set<UInt64> = []
    /// When a hybrid stops waiting for its layers and is adopted without them (it then downloads and checks
    /// its pieces by their v1 SHA-1 hashes); nil for a v2-only torrent, which has no other hashes and waits.
    let hybridDeadline: NIODeadline?

    /// How long a hybrid waits for its piece layers before it downloads by its v1 hashes alone.
    static let hybridWait = TimeAmount.seconds(30)

    /// Starts fetching the piece layers `torrent` lacks.
    init(torrent: Torrent, now: NIODeadline) {
        self.torrent = torrent
        self.fetch = PieceLayerFetch(torrent: torrent)
        self.hybridDeadline = torrent.version == .hybrid ? now + Self.hybridWait : nil
    }

    /// `torrent` with the layers it had and every layer verified so far.
    var torrentWithLayers: Torrent {
        var complete = torrent
        complete.pieceLayers.merge(fetch.layers) { kept, _ in kept }
        return complete
    }

    /// Whether a peer can be asked for hashes: it set the BEP 52 v2 bit in its handshake, or the connection is
    /// for a v2-only torrent (its info-hash is the truncated v2 hash, so the peer knows the torrent as v2).
    static func speaksV2(_ handshake: Handshake?, torrent: Torrent) -> Bool {
        guard let handshake else { return false }
        return handshake.reserved[.v2Upgrade] || torrent.version == .v2
    }
}
