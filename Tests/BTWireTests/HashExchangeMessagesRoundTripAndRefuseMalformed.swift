import NIOCore
import Testing

@testable import BTWire

/// BEP 52 `hash request` (21), `hashes` (22) and `hash reject` (23) payloads: byte-exact layout, round trips
/// (also through the frame decoder), and typed errors for every malformed payload.
@Suite struct HashExchangeMessagesRoundTripAndRefuseMalformed {
    static let root = [UInt8](repeating: 0xAB, count: 32)
    static let request = HashRequest(piecesRoot: root, baseLayer: 2, index: 8, length: 4, proofLayers: 5)

    @Test func layoutIsBEP52s() {
        #expect(PeerMessage.ID.hashRequest.rawValue == 21 && PeerMessage.ID.hashes.rawValue == 22)
        #expect(PeerMessage.ID.hashReject.rawValue == 23)
        let bytes = Self.request.encoded()
        #expect(bytes.count == 48 && Array(bytes[0..<32]) == Self.root)
        #expect(Array(bytes[32...]) == [0, 0, 0, 2, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 5])
    }

    @Test func everyMessageRoundTripsAndAgreesWithTheFrameDecoder() throws {
        #expect(try HashRequest(decoding: Self.request.encoded()) == Self.request)
        // 4 hashes cover 2 layers; 5 proof layers need 5 - 2 + 1 = 4 uncles (libtorrent's count).
        #expect(Self.request.proofHashCount == 4)
        let message = HashesMessage(
            request: Self.request, baseHashes: [UInt8](repeating: 1, count: 128),
            uncles: [UInt8](repeating: 2, count: 128))
        let decoded = try HashesMessage(decoding: message.encoded())
        #expect(decoded == message)
        #expect(decoded.baseHashes == [UInt8](repeating: 1, count: 128))
        #expect(decoded.uncles == [UInt8](repeating: 2, count: 128))
        // The frame decoder reads the same payload into the same value.
        var frame = ByteBuffer()
        PeerMessage.hashes(message).encode(into: &frame)
        var decoder = PeerMessageDecoder()
        decoder.append(frame)
        let framed = try decoder.next()
        #expect(framed == .hashes(message))
        if case .hashes(let fromFrame) = framed { #expect(try fromFrame.validated() == message) }
    }

    @Test func malformedPayloadsAreTypedErrors() {
        var wrongLength = Self.request.encoded()
        wrongLength.append(0)
        #expect(throws: WireError.self) { try HashRequest(decoding: wrongLength) }
        #expect(throws: WireError.self) { try HashRequest(decoding: wrongLength.dropLast(2)) }
        func with(length: Int = 4, index: Int = 8, negative: Bool = false) -> [UInt8] {
            var request = Self.request
            request.length = length
            request.index = index
            var bytes = request.encoded()
            if negative { bytes[32] = 0x80 }
            return bytes
        }
        for bad in [with(length: 0), with(length: 3), with(length: 16_384), with(index: 6), with(negative: true)] {
            #expect(throws: WireError.self) { try HashRequest(decoding: bad) }
        }
        // `hashes` must carry exactly length + proof hashes.
        let short = Self.request.encoded() + [UInt8](repeating: 0, count: 7 * 32)
        #expect(throws: WireError.self) { try HashesMessage(decoding: short) }
        #expect(throws: WireError.self) { try HashesMessage(decoding: short + [UInt8](repeating: 0, count: 64)) }
        #expect(throws: WireError.self) { try HashesMessage(decoding: short + [0]) }
        #expect(throws: WireError.self) { try HashesMessage(decoding: [UInt8](repeating: 0, count: 47)) }
    }
}
