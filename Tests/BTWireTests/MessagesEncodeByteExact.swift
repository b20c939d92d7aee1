import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

private func h(_ text: String) -> [UInt8] { WireTestSupport.hex(text) }
private func b(_ bytes: [UInt8]) -> ByteBuffer { WireTestSupport.buffer(bytes) }

/// One vector per message type: the value, and its wire bytes written out by hand from the BEPs.
private let vectors: [(String, PeerMessage, [UInt8])] = [
    ("keep-alive (BEP 3)", .keepAlive, h("00000000")),
    ("choke (BEP 3)", .choke, h("00000001 00")),
    ("unchoke (BEP 3)", .unchoke, h("00000001 01")),
    ("interested (BEP 3)", .interested, h("00000001 02")),
    ("not interested (BEP 3)", .notInterested, h("00000001 03")),
    ("have (BEP 3)", .have(piece: 0x0102_0304), h("00000005 04 01020304")),
    ("bitfield (BEP 3)", .bitfield(b([0xff, 0x80])), h("00000003 05 ff80")),
    (
        "request (BEP 3)", .request(BlockRequest(piece: 1, offset: 0x4000, length: 0x4000)),
        h("0000000d 06 00000001 00004000 00004000")
    ),
    (
        "piece (BEP 3)", .piece(Block(piece: 1, offset: 0x4000, data: b(Array("abc".utf8)))),
        h("0000000c 07 00000001 00004000 616263")
    ),
    (
        "cancel (BEP 3)", .cancel(BlockRequest(piece: 2, offset: 0, length: 0x4000)),
        h("0000000d 08 00000002 00000000 00004000")
    ),
    ("port (BEP 5)", .port(6881), h("00000003 09 1ae1")),
    ("suggest piece (BEP 6)", .suggest(piece: 5), h("00000005 0d 00000005")),
    ("have all (BEP 6)", .haveAll, h("00000001 0e")),
    ("have none (BEP 6)", .haveNone, h("00000001 0f")),
    (
        "reject request (BEP 6)", .reject(BlockRequest(piece: 3, offset: 0x8000, length: 0x10)),
        h("0000000d 10 00000003 00008000 00000010")
    ),
    ("allowed fast (BEP 6)", .allowedFast(piece: 7), h("00000005 11 00000007")),
    (
        "extended (BEP 10)", .extended(ExtendedMessage(id: 3, payload: b(Array("d1:ai1ee".utf8)))),
        h("0000000a 14 03 6431 3a61 6931 6565")
    ),
    (
        "hash request (BEP 52)",
        .hashRequest(
            HashRequest(
                piecesRoot: [UInt8](repeating: 0x11, count: 32), baseLayer: 0, index: 4, length: 8, proofLayers: 2)),
        h("00000031 15") + [UInt8](repeating: 0x11, count: 32) + h("00000000 00000004 00000008 00000002")
    ),
    (
        "hashes (BEP 52)",
        .hashes(
            HashesMessage(
                request: HashRequest(
                    piecesRoot: [UInt8](repeating: 0x22, count: 32), baseLayer: 1, index: 0, length: 2,
                    proofLayers: 0),
                hashes: b([UInt8](repeating: 0x33, count: 64)))),
        h("00000071 16") + [UInt8](repeating: 0x22, count: 32) + h("00000001 00000000 00000002 00000000")
            + [UInt8](repeating: 0x33, count: 64)
    ),
    (
        "hash reject (BEP 52)",
        .hashReject(
            HashRequest(
                piecesRoot: [UInt8](repeating: 0x44, count: 32), baseLayer: 2, index: 16, length: 4, proofLayers: 1)),
        h("00000031 17") + [UInt8](repeating: 0x44, count: 32) + h("00000002 00000010 00000004 00000001")
    ),
    ("unknown id", .unknown(id: 0x63, payload: b([1, 2])), h("00000003 63 0102")),
]

@Test(arguments: vectors.indices)
func messageEncodesToItsVectorAndBack(index: Int) throws {
    let (name, message, bytes) = vectors[index]
    #expect(message.encoded == bytes, "\(name)")
    #expect(message.payloadLength + 4 == bytes.count, "\(name)")
    var buffer = ByteBuffer(bytes: bytes)
    let decoded = try PeerMessageDecoder.decode(from: &buffer, limits: .init(pieceCount: nil))
    #expect(decoded == message, "\(name)")
    #expect(buffer.readableBytes == 0, "\(name)")
}

@Test func everyKnownMessageIDHasAVector() {
    let covered = Set(vectors.compactMap { $0.1.id })
    for id in PeerMessage.ID.allCases { #expect(covered.contains(id.rawValue), "no vector for id \(id)") }
}

@Test func blockPayloadIsASliceOfTheReceivedBufferNotACopy() throws {
    var input = ByteBuffer(bytes: h("00000009 07 00000000 00000000") + [UInt8](repeating: 0x5a, count: 16384 - 4))
    // Patch the length to cover 16384 bytes of data.
    input.setInteger(UInt32(9 + 16384 - 4), at: 0)
    let base = input.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
    guard case .piece(let block)? = try PeerMessageDecoder.decode(from: &input, limits: .init()) else {
        Issue.record("expected a piece")
        return
    }
    let dataAddress = block.data.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
    #expect(dataAddress == base + 13, "the block's bytes are the input's bytes")
}
