import NIOCore
import Testing

@testable import BTWire

private func h(_ text: String) -> [UInt8] { WireTestSupport.hex(text) }

private func decodeError(_ bytes: [UInt8], _ limits: PeerMessageDecoder.Limits) -> WireError? {
    var decoder = PeerMessageDecoder(limits: limits)
    decoder.append(bytes)
    do throws(WireError) {
        _ = try decoder.next()
        return nil
    } catch {
        return error
    }
}

@Test func oversizeLengthPrefixIsRejectedBeforeItsBodyArrives() {
    // Only the 4-byte prefix has arrived: a 2 GiB message is refused now, not buffered.
    #expect(decodeError(h("7fffffff"), .init())?.code == .messageTooLong)
    #expect(decodeError(h("00001000 07"), .init(maxMessageLength: 4095))?.code == .messageTooLong)
    #expect(decodeError(h("00000fff 07"), .init(maxMessageLength: 4095)) == nil, "at the limit waits for bytes")
}

@Test func fixedSizeMessagesWithTheWrongLengthAreRejected() {
    for bytes in [
        h("00000002 00 00"), h("00000004 04 000001"), h("0000000c 06 00000000 00000000 000040"),
        h("00000002 0e ff"), h("00000004 09 1ae100"), h("00000001 14"), h("00000002 15 00"),
    ] {
        #expect(decodeError(bytes, .init())?.code == .invalidMessageLength, "\(bytes)")
    }
    #expect(decodeError(h("00000008 07 00000000 000000"), .init())?.code == .invalidMessageLength)
    #expect(decodeError(h("00000032 16") + [UInt8](repeating: 0, count: 49), .init())?.code == .invalidMessageLength)
}

@Test func bitfieldMustMatchThePieceCountAndHaveNoSpareBits() {
    #expect(decodeError(h("00000003 05 ffc0"), .init(pieceCount: 10)) == nil)
    #expect(decodeError(h("00000003 05 ffe0"), .init(pieceCount: 10))?.code == .invalidBitfield)
    #expect(decodeError(h("00000002 05 ff"), .init(pieceCount: 10))?.code == .invalidBitfield)
    #expect(decodeError(h("00000004 05 ffc000"), .init(pieceCount: 10))?.code == .invalidBitfield)
    #expect(decodeError(h("00000002 05 ff"), .init(pieceCount: 8)) == nil)
}

@Test func requestLengthIsCappedAt16KiBUnlessConfigured() {
    let big = h("0000000d 06 00000000 00000000 00004001")
    #expect(decodeError(big, .init())?.code == .invalidRequestLength)
    #expect(decodeError(big, .init(maxRequestLength: 32768)) == nil)
    #expect(decodeError(h("0000000d 06 00000000 00000000 00000000"), .init())?.code == .invalidRequestLength)
    #expect(decodeError(h("0000000d 08 00000000 00000000 00100000"), .init())?.code == .invalidRequestLength)
    #expect(decodeError(h("0000000d 10 00000000 00000000 00100000"), .init())?.code == .invalidRequestLength)
}

@Test func pieceIndexesMustBeInsideTheTorrent() {
    let limits = PeerMessageDecoder.Limits(pieceCount: 4)
    #expect(decodeError(h("00000005 04 00000003"), limits) == nil)
    #expect(decodeError(h("00000005 04 00000004"), limits)?.code == .pieceIndexOutOfRange)
    #expect(decodeError(h("0000000d 06 00000004 00000000 00004000"), limits)?.code == .pieceIndexOutOfRange)
    #expect(decodeError(h("0000000a 07 ffffffff 00000000 00"), limits)?.code == .pieceIndexOutOfRange)
    #expect(decodeError(h("0000000d 08 00000009 00000000 00004000"), limits)?.code == .pieceIndexOutOfRange)
    #expect(decodeError(h("0000000d 10 00000009 00000000 00004000"), limits)?.code == .pieceIndexOutOfRange)
}
