import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

private typealias Support = WireTestSupport

/// One 1 MiB message, trickled as the attacker of issue 12 does. The attacker sent an unknown id, which the
/// decoder now refuses at its header (OverlongMessagesAreRefusedAtTheirHeader); the longest message the
/// default limits still accept is a bitfield before the metadata (its piece count unknown), so that is the one
/// trickled here.
private func oneMebibyteMessage() -> ByteBuffer {
    var rng = Support.SeededGenerator(seed: 12)
    let payload = ByteBuffer(bytes: Support.randomBytes(1 << 20, using: &rng))
    var bytes = ByteBuffer()
    PeerMessage.bitfield(payload).encode(into: &bytes)
    return bytes
}

/// What feeding a stream cost.
private struct Fed: Sendable {
    var messages: [PeerMessage] = []
    var decoder: PeerMessageDecoder
    /// Bytes received when the copy bound was passed, if it was.
    var overBoundAt: Int?
}

/// Feeds `stream` to a decoder in writes of `writeSize` bytes (slices of one buffer, so the test itself
/// allocates nothing per write), decoding after each write as the state machine does. Stops early once the
/// decoder has copied more than `copyBound` bytes, so a quadratic decoder fails here in a second instead of
/// running for hours. Runs on a thread of its own: a million tiny writes must not hold a cooperative thread.
private func feed(
    _ stream: ByteBuffer, writeSize: Int, copyBound: Int, limits: PeerMessageDecoder.Limits = .init()
) async throws -> Fed {
    try await onOwnThread {
        var fed = Fed(decoder: PeerMessageDecoder(limits: limits))
        var offset = stream.readerIndex
        while offset < stream.writerIndex {
            let size = min(writeSize, stream.writerIndex - offset)
            fed.decoder.append(stream.getSlice(at: offset, length: size)!)
            offset += size
            while let message = try fed.decoder.next() { fed.messages.append(message) }
            guard fed.decoder.copiedBytes <= copyBound else {
                fed.overBoundAt = offset
                break
            }
        }
        return fed
    }
}

@Test(arguments: [1, 64])
func aOneMebibyteMessageTrickledInTinyWritesCostsALinearNumberOfCopies(writeSize: Int) async throws {
    let stream = oneMebibyteMessage()
    let size = stream.readableBytes
    let fed = try await feed(stream, writeSize: writeSize, copyBound: 4 * size)
    let decoder = fed.decoder
    #expect(fed.overBoundAt == nil, "copied \(decoder.copiedBytes) bytes after \(fed.overBoundAt ?? 0) received")
    // Gathering copies each byte once; growing the buffer by doubling copies (counted as if every
    // reallocation moved the bytes) at most twice as much again.
    #expect(decoder.copiedBytes <= 3 * size + Support.slackForTheFirstWrite)
    #expect(decoder.assemblyAllocations <= 8, "doubling from 32 KiB reaches 2 MiB in 6 steps")
    #expect(fed.messages.count == 1)
    guard case .bitfield(let payload)? = fed.messages.first else {
        Issue.record("not a bitfield: \(String(describing: fed.messages.first))")
        return
    }
    #expect(payload == stream.getSlice(at: stream.readerIndex + 5, length: size - 5)!)
    #expect(decoder.bufferedBytes == 0)
}

@Test func aStreamOfWholeMessagesInOneBufferIsReadInPlaceWithoutCopies() async throws {
    var rng = Support.SeededGenerator(seed: 5)
    let messages = (0..<300).map { _ in Support.randomMessage(pieceCount: 77, using: &rng) }
    let bytes = Support.encode(messages)
    let fed = try await feed(
        ByteBuffer(bytes: bytes), writeSize: bytes.count, copyBound: 0, limits: .init(pieceCount: 77))
    #expect(fed.messages == messages)
    #expect(fed.decoder.copiedBytes == 0 && fed.decoder.assemblyAllocations == 0)
}

@Test func aBlockSplitAcrossTwoReadsIsGatheredWithOneAllocation() throws {
    var block = ByteBuffer()
    PeerMessage.piece(Block(piece: 1, offset: 0, data: ByteBuffer(repeating: 0x42, count: 16384))).encode(into: &block)
    var decoder = PeerMessageDecoder(limits: .init(pieceCount: 4))
    decoder.append(block.getSlice(at: 0, length: 7000)!)
    #expect(try decoder.next() == nil)
    decoder.append(block.getSlice(at: 7000, length: block.readableBytes - 7000)!)
    guard case .piece(let received)? = try decoder.next() else {
        Issue.record("expected the block")
        return
    }
    #expect(received.data.readableBytes == 16384)
    #expect(decoder.assemblyAllocations == 1)
    #expect(decoder.copiedBytes == block.readableBytes)
}

@Test(arguments: 0..<8)
func randomSplitsOfLargeAndSmallMessagesCostLinearCopies(seed: Int) throws {
    var rng = Support.SeededGenerator(seed: UInt64(700 + seed))
    var messages: [PeerMessage] = []
    for _ in 0..<40 {
        if Int.random(in: 0..<4, using: &rng) == 0 {
            let count = Int.random(in: 20_000...65_000, using: &rng)  // up to the 64 KiB extension limit
            messages.append(.extended(ExtendedMessage(id: 3, payload: ByteBuffer(repeating: 7, count: count))))
        } else {
            messages.append(Support.randomMessage(pieceCount: 77, using: &rng))
        }
    }
    let bytes = Support.encode(messages)
    let stream = ByteBuffer(bytes: bytes)
    var decoder = PeerMessageDecoder(limits: .init(pieceCount: 77))
    var decoded: [PeerMessage] = []
    var offset = 0
    while offset < bytes.count {
        let size = min(bytes.count - offset, Int.random(in: 1...Int.random(in: 1...5000, using: &rng), using: &rng))
        decoder.append(stream.getSlice(at: offset, length: size)!)
        offset += size
        while let message = try decoder.next() { decoded.append(message) }
    }
    #expect(decoded == messages)
    #expect(decoder.copiedBytes <= 4 * bytes.count)
}

extension WireTestSupport {
    /// Bytes a decoder may copy beyond twice a message's size: the first short write gathered on its own.
    static let slackForTheFirstWrite = 64
}
