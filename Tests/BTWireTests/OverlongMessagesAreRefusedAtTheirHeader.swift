import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// A message longer than its id allows is refused as soon as its length prefix and id have arrived (five
/// bytes), before anything else of it is waited for or buffered: a trickler can no longer make us gather a
/// 1 MiB message no honest peer sends (issue 12). Messages at each limit still decode.
@Suite struct OverlongMessagesAreRefusedAtTheirHeader {
    /// The first five bytes of a message: its length prefix (`size`: id and payload) and its id.
    static func header(size: Int, id: UInt8) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(size))
        buffer.writeInteger(id)
        return buffer
    }

    /// The error a decoder with `limits` throws for the header alone, if any.
    static func refusal(size: Int, id: UInt8, limits: PeerMessageDecoder.Limits = .init(pieceCount: 100))
        -> WireError?
    {
        var decoder = PeerMessageDecoder(limits: limits)
        decoder.append(header(size: size, id: id))
        do {
            let message = try decoder.next()
            #expect(message == nil, "five bytes cannot make a message of \(size) bytes")
            return nil
        } catch {
            return error
        }
    }

    /// A header no honest peer sends: an id, a length, and the error it gets.
    struct Case: Sendable, CustomStringConvertible {
        let id: UInt8
        let size: Int
        let code: WireError.Code
        var description: String { "id \(id), \(size) bytes" }
    }

    static let cases: [Case] = [
        Case(id: 200, size: 1 << 20, code: .messageTooLong),  // the trickled message: an unknown id
        Case(id: 99, size: 16 * 1024 + 1, code: .messageTooLong),
        Case(id: PeerMessage.ID.piece.rawValue, size: 9 + 16 * 1024 + 1, code: .messageTooLong),  // > a block
        Case(id: PeerMessage.ID.piece.rawValue, size: 1 << 20, code: .messageTooLong),
        Case(id: PeerMessage.ID.extended.rawValue, size: 1 + 64 * 1024 + 1, code: .messageTooLong),
        Case(id: PeerMessage.ID.hashes.rawValue, size: 1 << 20, code: .messageTooLong),
        Case(id: PeerMessage.ID.have.rawValue, size: 1 << 20, code: .invalidMessageLength),
        Case(id: PeerMessage.ID.choke.rawValue, size: 2, code: .invalidMessageLength),
        Case(id: PeerMessage.ID.request.rawValue, size: 14, code: .invalidMessageLength),
        Case(id: PeerMessage.ID.port.rawValue, size: 5, code: .invalidMessageLength),
        Case(id: PeerMessage.ID.hashRequest.rawValue, size: 1000, code: .invalidMessageLength),
        Case(id: PeerMessage.ID.bitfield.rawValue, size: 1 << 20, code: .invalidBitfield),  // 100 pieces: 13 bytes
    ]

    @Test(arguments: cases)
    func aMessageLongerThanItsIDAllowsIsRefusedAtItsFirstFiveBytes(_ refused: Case) {
        let error = Self.refusal(size: refused.size, id: refused.id)
        #expect(error?.code == refused.code, "\(refused): \(String(describing: error))")
    }

    @Test func messagesAtEachLimitStillDecode() throws {
        var stream = ByteBuffer()
        let messages: [PeerMessage] = [
            .unknown(id: 99, payload: ByteBuffer(repeating: 1, count: 16 * 1024 - 1)),
            .piece(Block(piece: 3, offset: 0, data: ByteBuffer(repeating: 2, count: 16 * 1024))),
            .extended(ExtendedMessage(id: 3, payload: ByteBuffer(repeating: 3, count: 64 * 1024 - 1))),
            .bitfield(ByteBuffer(repeating: 0xFF, count: 12) + ByteBuffer(bytes: [0xF0])),
        ]
        for message in messages { message.encode(into: &stream) }
        var decoder = PeerMessageDecoder(limits: .init(pieceCount: 100))
        decoder.append(stream)
        var decoded: [PeerMessage] = []
        while let message = try decoder.next() { decoded.append(message) }
        #expect(decoded == messages)
    }

    @Test func beforeTheMetadataABitfieldMayBeAsLongAsAnyMessage() {
        #expect(Self.refusal(size: 1 << 20, id: PeerMessage.ID.bitfield.rawValue, limits: .init()) == nil)
        #expect(
            Self.refusal(size: (1 << 20) + 14, id: PeerMessage.ID.bitfield.rawValue, limits: .init())?.code
                == .messageTooLong)
    }
}

extension ByteBuffer {
    fileprivate static func + (lhs: ByteBuffer, rhs: ByteBuffer) -> ByteBuffer {
        var sum = lhs
        var right = rhs
        sum.writeBuffer(&right)
        return sum
    }
}
