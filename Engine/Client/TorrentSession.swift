import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import NIOCore

/// One torrent inside the client: its piece store, picker, choker, connections and tracker schedule.
/// Confined to the client's event loop (see ``ClientCore``).
final class TorrentSession: @unchecked Sendable {
    let handle: TorrentHandle
    /// The torrent; for a magnet whose metadata is being fetched, a placeholder without files (see
    /// ``metadata``), replaced once when the metadata arrives.
    private(set) var torrent: Torrent
    private(set) var info: ClientEvent.TorrentInfo
    /// The torrent's storage (for a magnet still fetching its metadata, one with no files, never started).
    private(set) var store: PieceStore
    let resumePath: String?
    private(set) var totalBytes: Int64
    /// The magnet link and its metadata fetch while the info dictionary is not known (BEP 9); nil once it is,
    /// and for a torrent added from a .torrent.
    var metadata: MagnetMetadata?
    /// Whether the info dictionary is known (not a magnet still fetching it): only then are there files and
    /// resume data.
    var hasMetadata: Bool { metadata == nil }
    /// The torrent's info-hashes as far as known: a magnet with `btih` alone learns a hybrid's v2 hash with
    /// its metadata, before it is adopted (while its piece layers are fetched).
    var knownInfoHashes: InfoHashes { metadata?.layers?.torrent.infoHashes ?? torrent.infoHashes }
    /// Answers peers' `ut_metadata` requests (BEP 9) from ``torrent``'s info dictionary.
    var metadataServe: MetadataServe<UInt64>
    /// Answers peers' BEP 52 `hash request`s from ``torrent``'s piece layers (made on the first request).
    var pieceLayerServing: PieceLayerServing?
    /// Failed v2 pieces whose bad blocks are being found (see ``PieceLayerExchanger/investigate(_:blocks:session:)``).
    var blockBlame: BlockHashBlame<UInt64>?
    /// Peers we dialled and parted from as both upload only (BEP 21) while files were skipped: dialled again
    /// when more is wanted (bounded, 1,024).
    var uploadOnlyParted: [PeerCandidates.Candidate] = []
    var picker: PiecePicker<UInt64>
    var choker = Choker<UInt64>()
    var connections: [UInt64: PeerConnection] = [:]
    var state: TorrentState
    var error: String?
    var nextRechoke: NIODeadline
    var rechokeSoon = false
    /// When the periodic peer turnover next looks at this torrent (see ``PeerTurnover``).
    var nextTurnover: NIODeadline
    /// When the DHT next looks this torrent up and announces it (see `DHTPeerSource`).
    var nextDHTLookup: NIODeadline
    var schedule: AnnounceSchedule?
    /// The torrent's own tracker client (so its `tracker_*` events name this torrent), made on first use.
    var trackerClient: TrackerClient?
    /// Forwards ``trackerClient``'s events to the client's bus; ends when the tracker client is shut down.
    var trackerForwarder: Task<Void, Never>?
    /// Addresses (`host:port`) dialled and still connected or connecting.
    var dialled: Set<String> = []
    /// Addresses learnt from trackers and the user, to dial when slots free up (bounded).
    var candidates = PeerCandidates()
    /// Addresses whose dial failed or whose connection dropped, redialled with back-off.
    var redials = PeerRedials()
    /// Addresses (`host:port`) that refused our MSE handshake: dialled in plaintext from then on (at most
    /// 4,096; past that a refusing peer is just redialled with MSE, with back-off).
    var plaintextPeers: Set<String> = []
    /// Addresses (`host:port`) that did not take a hybrid's v2 identity over MSE (a client that knows the
    /// torrent by its v1 hash only): dialled by the v1 hash from then on (at most 4,096).
    var v1IdentityPeers: Set<String> = []
    /// Peers learnt through PEX from a peer that speaks holepunch, by their endpoint, with the connection key
    /// of the peer that told us (BEP 55's introducer; at most `Holepuncher.maximumIntroductions`).
    var holepunchIntroducers: [PeerEndpoint: UInt64] = [:]
    /// Failed attempts at pieces of a v1 torrent (each block's sender and hash as written), kept until the
    /// piece verifies: the senders of the blocks that differ then are proven liars (see `SmartBan+Engine.swift`).
    var failedAttempts: [Int: [FailedPieceBlocks]] = [:]
    /// Addresses redialled soon after they closed the connection on which they took our metadata (each at
    /// most once; see `PeerRedials.failed(quickly:)`), at most 4,096.
    var quickRedials: Set<String> = []
    /// When the tick last saved resume data (see `ClientCore.saveResumeDataIfDue`).
    var lastResumeSave: NIODeadline?
    var downloadedBytes: Int64 = 0
    var uploadedBytes: Int64 = 0
    var verifiedBytes: Int64 = 0
    var reportedFinished = false
    /// Address of every connection of this torrent, kept after it closes: hash results often arrive after
    /// the peer that sent the blocks has gone, and reputation is kept by address.
    var peerAddresses: [UInt64: IPAddress] = [:]
    /// Keys of closed connections, oldest first, whose addresses ``peerAddresses`` still keeps: past
    /// ``closedAddressesKept`` the oldest are forgotten (a long-running seed sees peers come and go for weeks).
    var closedPeerKeys: [UInt64] = []
    /// Addresses of closed connections kept for late hash results (a piece's senders may have left minutes
    /// before it completes).
    static let closedAddressesKept = 4096

    /// Notes that the connection `key` closed; forgets the addresses of the oldest closed ones past the bound.
    func peerClosed(_ key: UInt64) {
        closedPeerKeys.append(key)
        guard closedPeerKeys.count > Self.closedAddressesKept + Self.closedAddressesKept / 4 else { return }
        let forgotten = closedPeerKeys.count - Self.closedAddressesKept
        for old in closedPeerKeys[..<forgotten] { peerAddresses[old] = nil }
        closedPeerKeys.removeFirst(forgotten)
    }
    /// Received blocks on their way to ``store`` (made by the engine on the first block).
    var writer: PieceStore.BlockWriter?
    /// Requested blocks being read for upload: BTStorage's front end of `store` (made on the first request).
    var reader: PieceStore.BlockReader<PeerConnection>?
    /// Block bytes handed to storage whose write has not finished (see download back-pressure).
    var pendingWriteBytes = 0
    /// Completed when ``pendingWriteBytes`` falls to 0 (a recheck waits for its writes).
    var writeWaiters: [EventLoopPromise<Void>] = []
    /// The most ``pendingWriteBytes`` ever reached.
    var peakPendingWriteBytes = 0
    /// Rate limits and peer maximum of this torrent.
    var limits = TorrentLimits()
    /// Fraction of the hash check done while ``state`` is ``TorrentState/checking``.
    var checkProgress: Double?
    /// The state to return to after a check that interrupted a paused torrent.
    var pausedBeforeCheck = false
    /// Payload bytes reported to the metrics so far (the tick reports the difference).
    var reportedDownloaded: Int64 = 0
    /// Payload bytes reported to the metrics so far (the tick reports the difference).
    var reportedUploaded: Int64 = 0

    init(
        handle: TorrentHandle, torrent: Torrent, store: PieceStore, verified: Bitfield, resumePath: String?,
        now: NIODeadline
    ) {
        self.handle = handle
        self.torrent = torrent
        self.info = ClientEvent.TorrentInfo(infoHashes: torrent.infoHashes, name: torrent.name)
        self.store = store
        self.resumePath = resumePath
        self.totalBytes = torrent.totalSize
        self.picker = PiecePicker(layout: torrent.layout, have: verified)
        self.state = verified.isAllSet ? .seeding : .downloading
        self.nextRechoke = now
        self.nextTurnover = now
        self.nextDHTLookup = now
        self.reportedFinished = verified.isAllSet
        self.metadataServe = MetadataServe(infoDictionary: torrent.infoBytes.isEmpty ? nil : torrent.infoBytes)
        let layout = torrent.layout
        self.verifiedBytes = verified.setIndexes.reduce(Int64(0)) {
            $0 + Self.payloadBytes(ofPiece: $1, layout: layout)
        }
    }

    /// Payload bytes of `piece` (pad-file bytes excluded).
    static func payloadBytes(ofPiece piece: Int, layout: PieceLayout) -> Int64 {
        var total: Int64 = 0
        for slice in layout.slices(piece: piece) where !layout.files[slice.fileIndex].isPadFile {
            total += Int64(slice.length)
        }
        return total
    }

    /// Whether every wanted piece is verified (pieces only skipped files need are not wanted).
    var isComplete: Bool { picker.isComplete }

    /// The pieces a peer must have for us to be interested (nil: every piece, no file is skipped).
    var wantedPiecesForInterest: Bitfield? { picker.wantedPieces.isAllSet ? nil : picker.wantedPieces }

    /// Bytes still to download, for announces (a magnet still fetching its metadata says 16 KiB, as libtorrent
    /// does, so trackers do not take it for a seed).
    var bytesLeft: Int64 { metadata != nil ? 16_384 : max(0, totalBytes - verifiedBytes) }

    /// The metadata of a magnet arrived: the session takes the real torrent and its storage (the caller
    /// checks existing data next, as for a torrent added from a .torrent).
    func adoptMetadata(_ torrent: Torrent, store: PieceStore) {
        self.torrent = torrent
        self.info = ClientEvent.TorrentInfo(infoHashes: torrent.infoHashes, name: torrent.name)
        self.store = store
        self.totalBytes = torrent.totalSize
        self.metadata = nil
        self.metadataServe.setInfoDictionary(torrent.infoBytes)
        self.pieceLayerServing = nil
        var picker = PiecePicker<UInt64>(layout: torrent.layout, have: Bitfield(count: torrent.layout.pieceCount))
        picker.isSequential = self.picker.isSequential
        self.picker = picker
        self.verifiedBytes = 0
        self.reportedFinished = false
    }

    /// Shuts the torrent's tracker client down and waits until its last events are on the bus.
    func stopTrackerClient() async {
        guard let tracker = trackerClient else { return }
        await tracker.shutdown()
        await trackerForwarder?.value
    }
}
