import BTMetainfo
import NIOCore

@testable import BTWire

/// Two ``PeerStateMachine``s connected back to back in memory: each one's `send` actions are encoded to
/// bytes and fed to the other (in random splits), storage reads are served from an in-memory torrent, and
/// delivered blocks are assembled into pieces and checked. Time is simulated.
struct PeerPair {
    var a: PeerStateMachine
    var b: PeerStateMachine
    /// The torrent's bytes.
    let content: [UInt8]
    let pieceLength: Int
    var now: NIODeadline
    var rng = WireTestSupport.SeededGenerator(seed: 42)
    /// Bytes written by each side and not yet delivered.
    var wireToB = ByteBuffer()
    var wireToA = ByteBuffer()
    /// Blocks each side received, by piece.
    var receivedByA: [Int: [Int: [UInt8]]] = [:]
    var receivedByB: [Int: [Int: [UInt8]]] = [:]
    /// Every action each side produced.
    var actionsOfA: [PeerAction] = []
    var actionsOfB: [PeerAction] = []
    /// Requests handed back to the picker.
    var returnedToA: [BlockRequest] = []
    var returnedToB: [BlockRequest] = []
    /// Pieces each side completed and verified.
    var completedByA: Set<Int> = []
    var completedByB: Set<Int> = []

    static func content(size: Int, seed: UInt64) -> [UInt8] {
        var rng = WireTestSupport.SeededGenerator(seed: seed)
        return WireTestSupport.randomBytes(size, using: &rng)
    }

    static func configuration(
        content: [UInt8], pieceLength: Int, have: Bool, fast: Bool, peerIDByte: UInt8, remoteIPv4: [UInt8]? = nil
    ) -> PeerConfiguration {
        let count = (content.count + pieceLength - 1) / pieceLength
        var reserved = ReservedBits.local()
        reserved[.fast] = fast
        var configuration = PeerConfiguration(
            infoHash: [UInt8](repeating: 0xab, count: 20),
            localPeerID: PeerID(bytes: Array("-NB0100-".utf8) + [UInt8](repeating: peerIDByte, count: 12))!,
            pieceLength: pieceLength, totalLength: Int64(content.count),
            localPieces: Bitfield(count: count, allSet: have),
            localReserved: reserved, remoteIPv4: remoteIPv4)
        configuration.emitsPacketEvents = true
        return configuration
    }

    init(a: PeerConfiguration, b: PeerConfiguration, content: [UInt8]) {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        self.now = start
        self.content = content
        self.pieceLength = a.pieceLength
        self.a = PeerStateMachine(configuration: a, incoming: false, source: .tracker, now: start)
        self.b = PeerStateMachine(configuration: b, incoming: true, source: .incoming, now: start)
    }

    /// Dials: A connects to B and the handshakes flow.
    mutating func connect() {
        _ = a.startConnecting(now: now)
        apply(a.connectionEstablished(now: now), fromA: true)
        pump()
    }

    /// Performs actions of one side.
    mutating func apply(_ actions: [PeerAction], fromA: Bool) {
        if fromA { actionsOfA += actions } else { actionsOfB += actions }
        for action in actions {
            switch action {
            case .sendHandshake(let handshake):
                if fromA { handshake.encode(into: &wireToB) } else { handshake.encode(into: &wireToA) }
            case .send(let message):
                if fromA { message.encode(into: &wireToB) } else { message.encode(into: &wireToA) }
            case .readBlock(let request):
                let start = request.piece * pieceLength + request.offset
                let data = ByteBuffer(bytes: content[start..<(start + request.length)])
                if fromA {
                    apply(a.blockRead(request, data: data, now: now), fromA: true)
                } else {
                    apply(b.blockRead(request, data: data, now: now), fromA: false)
                }
            case .deliver(let block):
                let bytes = Array(block.data.readableBytesView)
                if fromA {
                    receivedByA[block.piece, default: [:]][block.offset] = bytes
                    checkPiece(block.piece, fromA: true)
                } else {
                    receivedByB[block.piece, default: [:]][block.offset] = bytes
                    checkPiece(block.piece, fromA: false)
                }
            case .requestsReturned(let blocks):
                if fromA { returnedToA += blocks } else { returnedToB += blocks }
            default:
                break
            }
        }
    }

    private mutating func checkPiece(_ piece: Int, fromA: Bool) {
        let blocks = fromA ? receivedByA[piece]! : receivedByB[piece]!
        let size = min(pieceLength, content.count - piece * pieceLength)
        let assembled = blocks.keys.sorted().flatMap { blocks[$0]! }
        guard assembled.count == size else { return }
        let good = assembled[...] == content[(piece * pieceLength)..<(piece * pieceLength + size)]
        if fromA {
            if good {
                completedByA.insert(piece)
                apply(a.havePiece(piece, now: now), fromA: true)
            }
        } else {
            if good {
                completedByB.insert(piece)
                apply(b.havePiece(piece, now: now), fromA: false)
            }
        }
    }

    /// Moves bytes both ways in random splits until both wires are empty.
    mutating func pump() {
        var rounds = 0
        while (wireToA.readableBytes > 0 || wireToB.readableBytes > 0) && rounds < 100_000 {
            rounds += 1
            if wireToB.readableBytes > 0 {
                let n = min(wireToB.readableBytes, Int.random(in: 1...40_000, using: &rng))
                let chunk = wireToB.readSlice(length: n)!
                apply(b.receive(chunk, now: now), fromA: false)
            }
            if wireToA.readableBytes > 0 {
                let n = min(wireToA.readableBytes, Int.random(in: 1...40_000, using: &rng))
                let chunk = wireToA.readSlice(length: n)!
                apply(a.receive(chunk, now: now), fromA: true)
            }
        }
    }

    /// A simple picker for side A: requests blocks of pieces it lacks, up to the pipeline's capacity.
    mutating func requestMissing(blockSize: Int = 16384) {
        var wanted: [BlockRequest] = []
        var capacity = a.requestCapacity(now: now)
        let pieceCount = (content.count + pieceLength - 1) / pieceLength
        outer: for piece in 0..<pieceCount where !a.localPieces[piece] && a.canRequest(piece: piece) {
            let size = min(pieceLength, content.count - piece * pieceLength)
            var offset = 0
            while offset < size {
                let block = BlockRequest(piece: piece, offset: offset, length: min(blockSize, size - offset))
                if receivedByA[piece]?[offset] == nil && !a.isInFlight(block) {
                    if capacity == 0 { break outer }
                    wanted.append(block)
                    capacity -= 1
                }
                offset += blockSize
            }
        }
        if !wanted.isEmpty { apply(a.request(wanted, now: now), fromA: true) }
    }

    mutating func advance(seconds: Int64) {
        now = now + .seconds(seconds)
    }

    var disconnectOfA: DisconnectReason? {
        if case .closed(let reason) = a.phase { return reason }
        return nil
    }

    var disconnectOfB: DisconnectReason? {
        if case .closed(let reason) = b.phase { return reason }
        return nil
    }
}
