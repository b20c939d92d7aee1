import BTMetainfo

/// Names a torrent added to a ``Client``: its info-hashes (the v1 hash, or the truncated v2 hash, is what
/// peers use on the wire) and its name.
public struct TorrentHandle: Hashable, Sendable, CustomStringConvertible {
    /// The torrent's info-hashes.
    public let infoHashes: InfoHashes
    /// The torrent's name.
    public let name: String

    /// Creates a handle.
    public init(infoHashes: InfoHashes, name: String) {
        self.infoHashes = infoHashes
        self.name = name
    }

    /// The 20-byte info-hash used in handshakes and announces.
    public var wireInfoHash: [UInt8] { infoHashes.wire }

    /// `name (hex info-hash)`.
    public var description: String { "\(name) (\(infoHashes))" }
}

/// What a torrent is doing.
public enum TorrentState: String, Hashable, Sendable {
    /// Hash-checking existing data (or reading resume data).
    case checking
    /// Downloading missing pieces.
    case downloading
    /// Every wanted piece is verified (``TorrentStatus/isFinished``; with skipped files not every piece is,
    /// see ``TorrentStatus/isComplete``); uploading what it has to peers that want it.
    case seeding
    /// Paused by the user: no connections, no announces.
    case paused
    /// Stopped by a storage error (see ``TorrentStatus/error``).
    case failed
    /// Added from a magnet link: fetching the info dictionary from peers (BEP 9), with
    /// ``TorrentStatus/metadataProgress``; then checking and downloading as any torrent.
    case fetchingMetadata
}

/// How much of a magnet's info dictionary has arrived (BEP 9 pieces of 16 KiB).
public struct MetadataProgress: Hashable, Sendable, CustomStringConvertible {
    /// Pieces received and kept in the current attempt.
    public var received: Int
    /// Pieces in the dictionary; 0 while no peer has told its size.
    public var total: Int

    /// Creates a progress.
    public init(received: Int, total: Int) {
        self.received = received
        self.total = total
    }

    /// `received/total`.
    public var description: String { "\(received)/\(total)" }
}

/// A snapshot of a torrent's progress and traffic.
public struct TorrentStatus: Hashable, Sendable {
    /// The torrent.
    public var handle: TorrentHandle
    /// What it is doing.
    public var state: TorrentState
    /// Fraction of the payload verified, 0...1.
    public var progress: Double
    /// Payload bytes (pad files excluded).
    public var totalBytes: Int64
    /// Payload bytes in verified pieces.
    public var verifiedBytes: Int64
    /// Verified pieces.
    public var verifiedPieces: Int
    /// Pieces in the torrent.
    public var pieceCount: Int
    /// Download rate of block payload, bytes per second.
    public var downloadRate: Double
    /// Upload rate of block payload, bytes per second.
    public var uploadRate: Double
    /// Connected peers (handshake done).
    public var peers: Int
    /// Connected peers that have every piece.
    public var seeds: Int
    /// Estimated time until every wanted piece is verified at the current rate; nil when finished or not
    /// moving.
    public var eta: Duration?
    /// Block payload received this session (including duplicates and corrupt data).
    public var downloadedBytes: Int64
    /// Block payload sent this session.
    public var uploadedBytes: Int64
    /// Share ratio: uploaded divided by downloaded (by the torrent size when nothing was downloaded).
    public var ratio: Double
    /// The storage error that stopped the torrent, when ``state`` is ``TorrentState/failed``.
    public var error: String?
    /// Fraction of the hash check done (0...1) while ``state`` is ``TorrentState/checking``; nil otherwise.
    public var checkProgress: Double? = nil
    /// Metadata pieces received while ``state`` is ``TorrentState/fetchingMetadata``; nil otherwise.
    public var metadataProgress: MetadataProgress? = nil
    /// Upload bytes queued in this process over all peers (blocks being read plus `piece` messages not
    /// yet written to a socket); each peer's share is capped by
    /// ``ClientConfiguration/maximumQueuedUploadBytesPerPeer``.
    public var queuedUploadBytes: Int = 0
    /// Block bytes received and not yet written to storage (at most about
    /// ``ClientConfiguration/maximumPendingWriteBytesPerTorrent`` plus the blocks already requested).
    public var pendingWriteBytes: Int = 0
    /// The torrent's rate limits and peer maximum.
    public var limits: TorrentLimits = TorrentLimits()
    /// Pieces wanted: those holding a byte of a file that is not skipped.
    public var wantedPieces: Int = 0
    /// Payload bytes in wanted pieces.
    public var wantedBytes: Int64 = 0
    /// Payload bytes in wanted pieces that are verified.
    public var verifiedWantedBytes: Int64 = 0
    /// The torrent's web seeds (BEP 19), with their state and the bytes each sent; their rates are part of
    /// ``downloadRate`` and their bytes of ``downloadedBytes``.
    public var webSeeds: [WebSeedStatus] = []

    /// Whether every wanted piece is verified (libtorrent's `is_finished`): the download is over, though
    /// pieces only skipped files need may be missing. A finished torrent is ``TorrentState/seeding``: it
    /// requests nothing, uploads what it has, and has reported `torrent_finished`.
    public var isFinished: Bool = false

    /// Whether every piece is verified (libtorrent's `is_seeding`). Only then is the tracker told
    /// `completed`, and `left` is 0 in announces; a torrent finished with skipped files announces the bytes
    /// it lacks as `left` and no `completed` until the skipped files are wanted and downloaded.
    public var isComplete: Bool { state != .fetchingMetadata && verifiedPieces == pieceCount }
}
