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
    /// Connections told to ``fetch`` (that speak v2).
    var askedPeers = 0
    /// When the fetch started.
    let started: NIODeadline
    /// When a hybrid stops waiting for its layers and is adopted without them (it then downloads and checks
    /// its pieces by their v1 SHA-1 hashes); nil for a v2-only torrent, which has no other hashes and waits.
    let hybridDeadline: NIODeadline?

    /// How long a hybrid waits for its piece layers before it downloads by its v1 hashes alone.
    static let hybridWait = TimeAmount.seconds(30)
    /// How long a hybrid waits when it has peers but none that can be asked for hashes.
    static let hybridWaitWithoutV2Peers = TimeAmount.seconds(3)

    /// Whether a hybrid should stop waiting for its layers and download by its v1 hashes: no layer came
    /// within ``hybridWait``, or it has had peers for ``hybridWaitWithoutV2Peers`` and none speaks v2.
    func hybridGivesUp(now: NIODeadline) -> Bool {
        guard let hybridDeadline, fetch.progress.verified == 0 else { return false }
        return now >= hybridDeadline
            || (askedPeers == 0 && !seen.isEmpty && now - started >= Self.hybridWaitWithoutV2Peers)
    }

    /// Starts fetching the piece layers `torrent` lacks.
    init(torrent: Torrent, now: NIODeadline) {
        self.torrent = torrent
        self.fetch = PieceLayerFetch(torrent: torrent)
        self.hybridDeadline = torrent.version == .hybrid ? now + Self.hybridWait : nil
        self.started = now
    }

    /// `torrent` with the layers it had and every layer verified so far.
    var torrentWithLayers: Torrent {
        var complete = torrent
        complete.pieceLayers.merge(fetch.layers) { kept, _ in kept }
        return complete
    }

    /// Whether a peer can be asked for hashes on this connection: the torrent is v2-only (the peer knows it by
    /// its v2 hash), or the peer's handshake names the truncated v2 info-hash (a hybrid's connection upgraded
    /// to v2, as libtorrent 2.0 answers a plaintext v1 handshake that has the BEP 52 bit). On a hybrid's v1
    /// connection libtorrent takes a `hash request` for an invalid message and disconnects, though it sets the
    /// v2 bit (over MSE it cannot upgrade, the stream is keyed by the v1 hash): there only another NetBitTorrent
    /// client (peer id `-NB`, which answers hash requests on any connection) with the v2 bit is asked.
    static func speaksV2(_ handshake: Handshake?, torrent: Torrent) -> Bool {
        guard let handshake else { return false }
        if torrent.version == .v2 { return true }
        guard let v2 = torrent.infoHashes.v2Truncated else { return false }
        if handshake.infoHash == v2 { return true }
        return handshake.reserved[.v2Upgrade] && handshake.peerID.bytes.starts(with: Array("-NB".utf8))
    }
}
