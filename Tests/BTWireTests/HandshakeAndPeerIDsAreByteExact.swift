import NIOCore
import Testing

@testable import BTWire

@Test func handshakeEncodesToTheBEP3Layout() throws {
    var reserved = ReservedBits()
    reserved[.extensionProtocol] = true
    reserved[.fast] = true
    reserved[.dht] = true
    let peerID = PeerID(bytes: Array("-NB0100-abcdefghijkl".utf8))!
    let handshake = Handshake(reserved: reserved, infoHash: [UInt8](repeating: 0xaa, count: 20), peerID: peerID)
    let expected =
        [19] + Array("BitTorrent protocol".utf8) + [0, 0, 0, 0, 0, 0x10, 0, 0x05]
        + [UInt8](repeating: 0xaa, count: 20) + Array("-NB0100-abcdefghijkl".utf8)
    #expect(handshake.encoded == expected)
    var buffer = ByteBuffer()
    handshake.encode(into: &buffer)
    #expect(Array(buffer.readableBytesView) == expected)
    #expect(try Handshake(decoding: expected) == handshake)
    #expect(reserved.description == "0000000000100005")
}

@Test func reservedBitsNameEveryFeature() {
    var bits = ReservedBits()
    bits[.v2Upgrade] = true
    #expect(bits.bytes == [0, 0, 0, 0, 0, 0, 0, 0x10])
    #expect(!bits[.fast] && !bits[.extensionProtocol] && !bits[.dht] && bits[.v2Upgrade])
    bits[.v2Upgrade] = false
    #expect(bits == ReservedBits())
    let local = ReservedBits.local(dht: true)
    #expect(local[.fast] && local[.extensionProtocol] && local[.dht])
    // Unknown bits survive a round trip untouched.
    let odd = ReservedBits(bytes: [0x80, 1, 2, 3, 4, 0x15, 6, 0xff])!
    #expect(odd.bytes == [0x80, 1, 2, 3, 4, 0x15, 6, 0xff] && odd[.extensionProtocol] && odd[.fast])
    #expect(ReservedBits(bytes: [1, 2, 3]) == nil)
}

@Test func handshakeDecoderWaitsForBytesAndRejectsOtherProtocols() throws {
    let handshake = Handshake(
        reserved: .local(), infoHash: Array(0..<20), peerID: PeerID(bytes: Array(100..<120))!)
    let bytes = handshake.encoded
    for cut in 0..<bytes.count {
        var partial = ByteBuffer(bytes: bytes[0..<cut])
        #expect(try Handshake.decode(from: &partial) == nil)
        #expect(partial.readableBytes == cut, "a short read consumes nothing")
    }
    var whole = ByteBuffer(bytes: bytes + [0, 0, 0, 0])
    #expect(try Handshake.decode(from: &whole) == handshake)
    #expect(whole.readableBytes == 4)
    // An HTTP request or an MSE key is refused at the first wrong byte, without waiting for 68 bytes.
    for junk in [Array("GET / HTTP/1.1".utf8), [19, 66, 105, 116, 84, 111, 114, 114, 101, 110, 116, 32, 112, 114, 0]] {
        var buffer = ByteBuffer(bytes: junk)
        #expect(throws: WireError.self) { try Handshake.decode(from: &buffer) }
    }
    #expect(throws: WireError.self) { try Handshake(decoding: bytes + [1]) }
}

@Test func generatedPeerIDsCarryOurPrefixAndSecureRandomness() {
    let a = PeerID.generate()
    let b = PeerID.generate()
    #expect(a.bytes.count == 20 && Array(a.bytes.prefix(8)) == Array("-NB0100-".utf8))
    #expect(a != b, "12 random bytes repeat with probability 2^-96")
    #expect(a.client == PeerClient(name: "NetBitTorrent", version: "0.1.0.0"))
    var rng = WireTestSupport.SeededGenerator(seed: 7)
    var rng2 = WireTestSupport.SeededGenerator(seed: 7)
    #expect(
        PeerID.generate(prefix: PeerID.localPrefix, using: &rng)
            == PeerID.generate(prefix: PeerID.localPrefix, using: &rng2))
}

@Test(arguments: [
    ("-LT2080-abcdefghijkl", "libtorrent", "2.0.8.0"),
    ("-LT1B20-abcdefghijkl", "libtorrent", "1.11.2.0"),
    ("-TR300Z-abcdefghijkl", "Transmission", "3.00"),
    ("-TR4000-abcdefghijkl", "Transmission", "4.00"),
    ("-qB4500-abcdefghijkl", "qBittorrent", "4.5.0"),
    ("A2-1-36-0-abcdefghij", "aria2", "1.36.0"),
    ("-UT355B-abcdefghijkl", "µTorrent", "3.5.5"),
    ("-DE2110-abcdefghijkl", "Deluge", "2.1.1"),
    ("-NB0100-abcdefghijkl", "NetBitTorrent", "0.1.0.0"),
    ("M7-4-1--abcdefghijkl", "Mainline", "7.4.1"),
])
func wellKnownPeerIDsNameTheirClient(id: String, name: String, version: String) {
    let client = PeerID(bytes: Array(id.utf8))!.client
    #expect(client?.name == name)
    #expect(client?.version == version)
}

@Test func unknownPeerIDsHaveNoClient() {
    #expect(PeerID(bytes: [UInt8](repeating: 0, count: 20))!.client == nil)
    #expect(PeerID(bytes: [UInt8](repeating: 0, count: 19)) == nil)
    #expect(PeerID(bytes: Array("-ZZ1234-abcdefghijkl".utf8))!.client?.name == "ZZ")
}
