import BTMetainfo
import NIOCore

extension PeerStateMachine {
    /// What the two sides have said to each other once the handshakes are done: the peer's handshake and the
    /// features both set, choking and interest both ways, the peer's pieces, allowed-fast sets, suggestions
    /// and rates. The active state keeps it up to date; the closed state keeps the last of it for status.
    struct Link: Sendable {
        /// The peer's handshake (its info-hash is ours).
        let handshake: Handshake
        /// Both sides set the BEP 10 bit.
        let supportsExtensions: Bool
        /// Both sides set the BEP 6 bit.
        let supportsFastExtension: Bool
        /// The peer's extension handshake, once received (BEP 10: it may never come).
        var extensions: ExtensionHandshake?
        /// The pieces the peer has.
        var pieces: Bitfield
        /// What the peer has said about its pieces.
        var bitfieldStatus: BitfieldStatus = .unknown
        /// What the peer said about its pieces before we knew how many there are (a magnet; see
        /// ``PeerConfiguration/awaitsMetadata``).
        var pending = PendingAvailability()
        /// We choke the peer.
        var amChoking = true
        /// We are interested in the peer.
        var amInterested = false
        /// The peer chokes us.
        var peerChoking = true
        /// The peer is interested in us.
        var peerInterested = false
        /// The peer failed the request timeout: one request at a time until it delivers.
        var isSnubbed = false
        /// Pieces the peer lets us request while it chokes us (BEP 6), at most 256.
        var allowedFastFromPeer: Set<Int> = []
        /// Pieces we let the peer request while we choke it, in the order sent: a few 4-byte entries per
        /// connection (10 by default), where a hash set costs 200 bytes.
        private(set) var allowedFastSent: [UInt32] = []
        /// Pieces the peer suggested (BEP 6), oldest first, at most 32.
        private(set) var suggestedPieces: [Int] = []
        /// The peer's DHT port (BEP 5 `port`), if sent.
        var dhtPort: UInt16?
        /// Block payload received.
        var downMeter = RateMeter()
        /// Block payload sent.
        var upMeter = RateMeter()

        /// The link made by the peer's accepted `handshake`: the features both sides set, no pieces yet.
        init(handshake: Handshake, localReserved: ReservedBits, pieceCount: Int) {
            self.handshake = handshake
            self.supportsExtensions = localReserved[.extensionProtocol] && handshake.reserved[.extensionProtocol]
            self.supportsFastExtension = localReserved[.fast] && handshake.reserved[.fast]
            self.pieces = Bitfield(count: pieceCount)
        }

        /// The peer has every piece.
        var isSeed: Bool { pieces.count > 0 && pieces.isAllSet }

        /// What the peer last said of BEP 21 `upload_only` (its extension handshakes, libtorrent's message).
        var saysUploadOnly = false

        /// The peer will not download: it said so (BEP 21) or it is a seed.
        var isUploadOnly: Bool { isSeed || saysUploadOnly }

        /// We sent `allowed fast` for `piece`.
        func allowsFast(_ piece: Int) -> Bool {
            piece >= 0 && piece <= Int(UInt32.max) && allowedFastSent.contains(UInt32(piece))
        }

        /// Adds `piece` (a valid index) to the pieces we allow fast; false when it was there already.
        mutating func insertAllowedFast(_ piece: Int) -> Bool {
            guard !allowsFast(piece) else { return false }
            allowedFastSent.append(UInt32(piece))
            return true
        }

        /// Makes room for the allowed-fast set we are about to grant.
        mutating func reserveAllowedFast(_ count: Int) {
            allowedFastSent.reserveCapacity(count)
        }

        /// Pieces we let the peer request while we choke it.
        var allowedFastToPeer: Set<Int> { Set(allowedFastSent.lazy.map { Int($0) }) }

        /// Records a suggestion (BEP 6 `suggest piece`): known pieces only, each once, the newest 32.
        mutating func suggest(_ piece: Int, pieceCount: Int) {
            guard piece < pieceCount, !suggestedPieces.contains(piece) else { return }
            suggestedPieces.append(piece)
            if suggestedPieces.count > 32 { suggestedPieces.removeFirst() }
        }

        /// Whether the peer has a piece we want and do not have (BEP 3 interest; libtorrent's rule too),
        /// without building intermediate bitfields: this runs on every `have`.
        func hasPiece(wantedBy local: Local) -> Bool {
            let peer = pieces.bytes
            let ours = local.pieces.bytes
            guard peer.count == ours.count else { return false }
            if let wanted = local.wanted?.bytes, wanted.count == peer.count {
                for index in peer.indices where peer[index] & ~ours[index] & wanted[index] != 0 { return true }
            } else {
                for index in peer.indices where peer[index] & ~ours[index] != 0 { return true }
            }
            return false
        }

        /// The request pipeline's depth: 1 while snubbed, else from the peer's `reqq` and the measured rate.
        mutating func pipelineDepth(now: NIODeadline, configuration: PeerConfiguration) -> Int {
            if isSnubbed { return 1 }
            return PeerStateMachine.pipelineDepth(
                configuration: configuration, peerQueue: extensions?.requestQueueLength,
                rate: downMeter.rate(at: now))
        }
    }

    /// The pipeline depth for a peer whose queue is `peerQueue` (its `reqq`; 250 when unknown) at a download
    /// rate of `rate` bytes/s: enough requests for ``PeerConfiguration/requestQueueSeconds`` of download, at
    /// least ``PeerConfiguration/initialPipelineDepth``, at most the peer's queue and our maximum.
    static func pipelineDepth(configuration: PeerConfiguration, peerQueue: Int?, rate: Double) -> Int {
        let cap = max(1, min(configuration.maxPipelineDepth, peerQueue ?? 250))
        let byRate = Int(rate * configuration.requestQueueSeconds / 16384)
        return min(cap, max(configuration.initialPipelineDepth, byRate))
    }
}
