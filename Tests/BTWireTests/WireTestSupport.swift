import BTMetainfo
import NIOCore

@testable import BTWire

/// Hex helpers and random message generation shared by the BTWire tests.
enum WireTestSupport {
    /// `messages` as they go on the wire, one after another.
    static func encoded(_ messages: PeerMessage...) -> ByteBuffer {
        var buffer = ByteBuffer()
        for message in messages { message.encode(into: &buffer) }
        return buffer
    }

    static func hex(_ text: String) -> [UInt8] {
        let clean = text.filter { !$0.isWhitespace }
        return NetBitTorrentHex.decode(clean)!
    }

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    /// A deterministic generator (SplitMix64) so property tests are reproducible.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func randomBytes(_ count: Int, using rng: inout SeededGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// A random valid message for a torrent of `pieceCount` pieces.
    static func randomMessage(pieceCount: Int, using rng: inout SeededGenerator) -> PeerMessage {
        let piece = Int.random(in: 0..<pieceCount, using: &rng)
        let request = BlockRequest(
            piece: piece, offset: Int.random(in: 0...1_000_000, using: &rng),
            length: Int.random(in: 1...16384, using: &rng))
        switch Int.random(in: 0..<21, using: &rng) {
        case 0: return .keepAlive
        case 1: return .choke
        case 2: return .unchoke
        case 3: return .interested
        case 4: return .notInterested
        case 5: return .have(piece: piece)
        case 6:
            var bits = Bitfield(count: pieceCount)
            for i in 0..<pieceCount where Bool.random(using: &rng) { bits[i] = true }
            return .bitfield(buffer(bits.bytes))
        case 7: return .request(request)
        case 8:
            return .piece(
                Block(
                    piece: piece, offset: request.offset,
                    data: buffer(randomBytes(Int.random(in: 0...2000, using: &rng), using: &rng))))
        case 9: return .cancel(request)
        case 10: return .port(UInt16.random(in: 0...UInt16.max, using: &rng))
        case 11: return .suggest(piece: piece)
        case 12: return .haveAll
        case 13: return .haveNone
        case 14: return .reject(request)
        case 15: return .allowedFast(piece: piece)
        case 16:
            return .extended(
                ExtendedMessage(
                    id: UInt8.random(in: 0...255, using: &rng),
                    payload: buffer(randomBytes(Int.random(in: 0...300, using: &rng), using: &rng))))
        case 17: return .hashRequest(randomHashRequest(using: &rng))
        case 18:
            return .hashes(
                HashesMessage(
                    request: randomHashRequest(using: &rng),
                    hashes: buffer(randomBytes(32 * Int.random(in: 0...8, using: &rng), using: &rng))))
        case 19: return .hashReject(randomHashRequest(using: &rng))
        default:
            return .unknown(
                id: UInt8.random(in: 24...255, using: &rng),
                payload: buffer(randomBytes(Int.random(in: 0...50, using: &rng), using: &rng)))
        }
    }

    static func randomHashRequest(using rng: inout SeededGenerator) -> HashRequest {
        HashRequest(
            piecesRoot: randomBytes(32, using: &rng), baseLayer: Int.random(in: 0...20, using: &rng),
            index: Int.random(in: 0...100_000, using: &rng), length: 1 << Int.random(in: 1...9, using: &rng),
            proofLayers: Int.random(in: 0...10, using: &rng))
    }

    static func encode(_ messages: [PeerMessage]) -> [UInt8] {
        var out = ByteBufferAllocator().buffer(capacity: 1024)
        for message in messages { message.encode(into: &out) }
        return Array(out.readableBytesView)
    }

    /// Feeds `bytes` to a fresh decoder in chunks of the given sizes and returns every message.
    static func decode(_ bytes: [UInt8], chunks: [Int], limits: PeerMessageDecoder.Limits) throws -> [PeerMessage] {
        var decoder = PeerMessageDecoder(limits: limits)
        var messages: [PeerMessage] = []
        var position = 0
        for size in chunks {
            let end = min(bytes.count, position + size)
            decoder.append(ByteBuffer(bytes: bytes[position..<end]))
            position = end
            while let message = try decoder.next() { messages.append(message) }
        }
        precondition(position == bytes.count, "chunks must cover the input")
        return messages
    }
}
