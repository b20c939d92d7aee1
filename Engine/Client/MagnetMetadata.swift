import BTMetainfo
import BTStorage
import BTWire
import NIOCore

/// A torrent added from a magnet link whose info dictionary is not known yet (BEP 9): the link, the fetch
/// over the connected peers that advertise `ut_metadata`, and what adding the torrent needs once it arrives.
/// Held by the ``TorrentSession`` while it is ``TorrentState/fetchingMetadata``.
struct MagnetMetadata: Sendable {
    /// The link the torrent was added from (trackers, web seeds, peers, select-only).
    let magnet: MagnetLink
    /// Where the torrent's data goes.
    let downloadDirectory: String
    /// The BEP 9 fetch; its peers are connection keys.
    var fetch: MetadataFetch<UInt64>
    /// Connections whose extension handshake was looked at (told to ``fetch`` when they advertise
    /// `ut_metadata`).
    var seen: Set<UInt64> = []
    /// The dictionary verified and the torrent is being set up (storage, check), or its piece layers are
    /// being fetched (``layers``): the metadata fetch is over.
    var isAdopting = false
    /// The torrent whose info dictionary is known but whose BEP 52 piece layers are not (a v2 or hybrid
    /// magnet, or a .torrent without `piece layers`), with their fetch: the torrent is adopted once every
    /// layer is verified (see `PieceLayerExchanger`).
    var layers: PendingPieceLayers?
    /// File priorities to apply once the torrent is adopted (a .torrent added without its piece layers);
    /// nil: the link's `so`.
    var filePriorities: [FilePriority]?

    /// Starts fetching the metadata of `magnet`.
    init(magnet: MagnetLink, downloadDirectory: String) {
        self.magnet = magnet
        self.downloadDirectory = downloadDirectory
        self.fetch = MetadataFetch(infoHashes: magnet.infoHashes)
    }

    /// The torrent that stands for the magnet until its metadata arrives: its info-hashes, name (`dn`, or the
    /// info-hash in hex) and trackers (one tier each, as libtorrent adds a magnet's), no files and no pieces.
    static func placeholder(for magnet: MagnetLink) -> Torrent {
        let hashes = magnet.infoHashes
        let version: TorrentVersion = hashes.v1 == nil ? .v2 : (hashes.v2 == nil ? .v1 : .hybrid)
        let name = magnet.displayName.flatMap { PathSanitizer.element(Array($0.utf8), force: true) } ?? ""
        return Torrent(
            version: version, infoHashes: hashes, name: name.isEmpty ? hashes.description : name,
            pieceLength: MetadataMessage.pieceSize, files: [], isSingleFile: true, pieceHashes: [],
            announceTiers: magnet.trackers.filter { !$0.isEmpty }.map { [$0] }, webSeeds: magnet.webSeeds,
            infoBytes: [])
    }

    /// The file priorities BEP 53 `so` asks for (files outside every range skipped), or nil without `so`.
    static func priorities(selectOnly ranges: [ClosedRange<Int>]?, fileCount: Int) -> [FilePriority]? {
        guard let ranges else { return nil }
        return (0..<fileCount).map { index in ranges.contains { $0.contains(index) } ? .normal : .skip }
    }

    /// Where the complete .torrent of a magnet is kept beside its resume data, so that a restart does not
    /// fetch the metadata again: `RESUME.torrent`.
    static func torrentPath(resume: String?) -> String? { resume.map { $0 + ".torrent" } }
}
