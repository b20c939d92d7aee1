import NIOCore
import Testing

@testable import BTUTP

/// The packet codec reads and writes BEP 29 version 1 exactly, keeps unknown extensions verbatim, accepts
/// the selective ACK lengths real peers send, and rejects every malformed datagram with a typed error.
struct PacketCodecRoundTripsAndRejectsMalformedDatagrams {
    /// An ST_SYN as libutp sends it: no extension, no payload, ack_nr 0.
    static let synBytes: [UInt8] = [
        0x41, 0x00, 0x12, 0x34, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00,
    ]

    /// An ST_STATE as libtorrent sends it with three packets out of order: a 3-byte selective ACK (not a
    /// multiple of 4) followed by its close-reason extension (type 3).
    static let libtorrentStateBytes: [UInt8] =
        [
            0x21, 0x01, 0xab, 0xcd, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00,
            0x00, 0x07, 0x00, 0x05,
        ] + [0x03, 0x03, 0b0000_0101, 0x00, 0x80] + [0x00, 0x04, 0x00, 0x00, 0x00, 0x05]

    @Test func decodesASynFieldByField() throws {
        let packet = try UTPPacket(decoding: ByteBuffer(bytes: Self.synBytes))
        #expect(packet.type == .syn)
        #expect(packet.connectionID == 0x1234)
        #expect(packet.timestampMicroseconds == 0x0102_0304)
        #expect(packet.timestampDifferenceMicroseconds == 0)
        #expect(packet.windowSize == 0x0010_0000)
        #expect(packet.sequenceNumber == 1)
        #expect(packet.ackNumber == 0)
        #expect(packet.extensions.isEmpty)
        #expect(packet.payload.readableBytes == 0)
        #expect(try Array(buffer: packet.encoded()) == Self.synBytes)
    }

    @Test func readsLibtorrentSelectiveAckOfAnyLengthAndKeepsTheCloseReason() throws {
        let packet = try UTPPacket(decoding: ByteBuffer(bytes: Self.libtorrentStateBytes))
        #expect(packet.type == .state)
        #expect(packet.ackNumber == 5)
        let sack = try #require(packet.selectiveAck)
        #expect(sack.bytes.count == 3)
        // Bit 0 is ack_nr + 2, bit 2 is ack_nr + 4, bit 23 is ack_nr + 25.
        #expect(sack.receivedSequenceNumbers(ackNumber: 5) == [7, 9, 30])
        #expect(packet.extensions.last == .other(type: 3, bytes: [0, 0, 0, 5]))
        #expect(try Array(buffer: packet.encoded()) == Self.libtorrentStateBytes)
    }

    @Test(arguments: UTPPacketType.allCases)
    func everyTypeRoundTripsWithPayloadAndExtensions(type: UTPPacketType) throws {
        var sack = SelectiveAck(bitCount: 40)
        sack[0] = true
        sack[39] = true
        let packet = UTPPacket(
            type: type, connectionID: 0xffff, timestampMicroseconds: .max, timestampDifferenceMicroseconds: 17,
            windowSize: 1 << 20, sequenceNumber: 0xffff, ackNumber: 0xfffe,
            extensions: [.other(type: 2, bytes: [UInt8](repeating: 1, count: 8)), .selectiveAck(sack)],
            payload: ByteBuffer(bytes: Array(0..<200).map { UInt8($0) }))
        let bytes = try packet.encoded()
        #expect(bytes.readableBytes == packet.encodedSize)
        #expect(bytes.readableBytes == 20 + 10 + 10 + 200)
        #expect(try UTPPacket(decoding: bytes) == packet)
        #expect(sack.bytes.count == 8, "40 bits round up to two 32-bit words (BEP 29)")
    }

    static let malformed: [(name: String, bytes: [UInt8], code: UTPError.Code)] = [
        ("empty", [], .truncated),
        ("nineteen bytes", Array(synBytes.prefix(19)), .truncated),
        ("version 0", [0x40] + synBytes.dropFirst(), .unsupportedVersion),
        ("version 2", [0x42] + synBytes.dropFirst(), .unsupportedVersion),
        ("type 5", [0x51] + synBytes.dropFirst(), .unknownType),
        ("type 15", [0xf1] + synBytes.dropFirst(), .unknownType),
        ("extension header missing", [0x21, 0x01] + synBytes.dropFirst(2), .truncated),
        ("extension header cut", [0x21, 0x01] + synBytes.dropFirst(2) + [0x00], .truncated),
        ("extension body past the end", [0x21, 0x01] + synBytes.dropFirst(2) + [0x00, 0x04, 1, 2, 3], .truncated),
        ("zero-length selective ACK", [0x21, 0x01] + synBytes.dropFirst(2) + [0x00, 0x00], .invalidExtension),
        (
            "two selective ACKs",
            [0x21, 0x01] + synBytes.dropFirst(2) + [0x01, 0x04, 0, 0, 0, 0, 0x00, 0x04, 0, 0, 0, 0],
            .invalidExtension
        ),
        (
            "nine extensions",
            [0x21, 0x02] + synBytes.dropFirst(2) + Array([[UInt8]](repeating: [0x02, 0x00], count: 8).joined()) + [
                0x00, 0x00,
            ],
            .invalidExtension
        ),
    ]

    @Test(arguments: malformed.indices)
    func malformedDatagramsGiveTypedErrors(index: Int) {
        let vector = Self.malformed[index]
        #expect(throws: UTPError.self, "\(vector.name)") { try UTPPacket(decoding: ByteBuffer(bytes: vector.bytes)) }
        do {
            _ = try UTPPacket(decoding: ByteBuffer(bytes: vector.bytes))
        } catch {
            #expect(error.code == vector.code, "\(vector.name): \(error)")
        }
    }

    @Test func rejectsADatagramLargerThanUDPAllows() {
        let bytes = Self.synBytes + [UInt8](repeating: 0, count: UTPPacket.maximumDatagramSize)
        #expect(throws: UTPError.self) { try UTPPacket(decoding: ByteBuffer(bytes: bytes)) }
    }

    @Test func refusesToEncodeAnOversizedExtension() {
        let packet = UTPPacket(
            type: .state, connectionID: 1, sequenceNumber: 1, ackNumber: 1,
            extensions: [.other(type: 9, bytes: [UInt8](repeating: 0, count: 256))])
        #expect(throws: UTPError.self) { try packet.encoded() }
    }

    @Test func randomPacketsRoundTrip() throws {
        var rng = SeededGenerator(seed: 99)
        for _ in 0..<500 {
            var extensions: [UTPPacket.Extension] = []
            if Bool.random(using: &rng) {
                extensions.append(
                    .selectiveAck(
                        SelectiveAck(
                            bytes: (0..<Int.random(in: 1...40, using: &rng)).map { _ in
                                UInt8.random(in: 0...255, using: &rng)
                            })!))
            }
            if Bool.random(using: &rng) { extensions.append(.other(type: 3, bytes: [0, 0, 0, 1])) }
            let packet = UTPPacket(
                type: UTPPacketType.allCases.randomElement(using: &rng)!,
                connectionID: .random(in: 0...0xffff, using: &rng),
                timestampMicroseconds: .random(in: 0...UInt32.max, using: &rng),
                timestampDifferenceMicroseconds: .random(in: 0...UInt32.max, using: &rng),
                windowSize: .random(in: 0...UInt32.max, using: &rng),
                sequenceNumber: .random(in: 0...0xffff, using: &rng),
                ackNumber: .random(in: 0...0xffff, using: &rng), extensions: extensions,
                payload: ByteBuffer(repeating: 7, count: Int.random(in: 0...1500, using: &rng)))
            #expect(try UTPPacket(decoding: packet.encoded()) == packet)
        }
    }
}
