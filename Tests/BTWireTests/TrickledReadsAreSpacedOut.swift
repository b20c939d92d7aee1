import BTMetainfo
import NIOCore
import NIOEmbedded
import Testing

@testable import BTWire

/// Issue 12: a peer that trickles a message (a few bytes per segment) gets its reads spaced out, so the
/// kernel gathers its segments and a read is no longer paid per 64 bytes; an honest peer's reads are
/// never delayed.
@Suite struct TrickledReadsAreSpacedOut {
    /// Counts the reads the handler lets through to the channel.
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = ByteBuffer
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    @Test func smallReadsThatLeaveAMessageIncompleteStartSpacingAndABoundaryEndsIt() {
        var detector = TrickleDetector(policy: TrickledReads())
        for _ in 0..<3 { detector.observe(read: 64, undecoded: 100) }
        #expect(!detector.spacesReads)
        detector.observe(read: 64, undecoded: 164)
        #expect(detector.spacesReads)
        // A spaced read gathers many segments: large, and the trickler is still spaced.
        detector.observe(read: 60_000, undecoded: 60_164)
        #expect(detector.spacesReads)
        // The message is complete and nothing waits: back to reading at once.
        detector.observe(read: 64, undecoded: 0)
        #expect(!detector.spacesReads)
    }

    @Test func honestReadsAreNeverSpaced() {
        var detector = TrickleDetector(policy: TrickledReads())
        // Full segments of a slow link, each leaving a block incomplete, and small messages that complete.
        for round in 0..<1000 {
            detector.observe(read: round % 3 == 0 ? 1448 : 9, undecoded: round % 3 == 0 ? 5000 : 0)
            #expect(!detector.spacesReads)
        }
        // Three small partial reads, then a full one: the count starts over.
        for _ in 0..<3 { detector.observe(read: 64, undecoded: 100) }
        detector.observe(read: 16_384, undecoded: 4000)
        for _ in 0..<3 { detector.observe(read: 64, undecoded: 100) }
        #expect(!detector.spacesReads)
    }

    /// A handler around an active connection on an embedded channel (its clock moved by hand), with a read
    /// counter between it and the channel.
    static func activeHandler() throws -> (EmbeddedChannel, ReadCounter, NIODeadline) {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        let counter = ReadCounter()
        let infoHash = [UInt8](repeating: 0xab, count: 20)
        var configuration = PeerConfiguration(
            infoHash: infoHash, localPeerID: PeerID(bytes: Array("-NB0100-".utf8) + [UInt8](repeating: 1, count: 12))!,
            pieceLength: 16384, totalLength: 16 * 16384, localPieces: Bitfield(count: 16), localReserved: .local())
        configuration.emitsPacketEvents = false
        let machine = PeerStateMachine(configuration: configuration, incoming: false, source: .tracker, now: loop.now)
        try channel.pipeline.syncOperations.addHandlers([
            counter, PeerChannelHandler(machine: machine, tickInterval: nil),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6881)).wait()
        var theirs = ByteBuffer()
        Handshake(
            reserved: .local(), infoHash: infoHash,
            peerID: PeerID(bytes: Array("-NB0100-".utf8) + [UInt8](repeating: 2, count: 12))!
        ).encode(into: &theirs)
        try channel.writeInbound(theirs)
        return (channel, counter, loop.now)
    }

    /// Feeds `bytes` to the channel and asks for the next read, as autoRead does after each read.
    static func deliver(_ bytes: ByteBuffer, to channel: EmbeddedChannel) throws {
        try channel.writeInbound(bytes)
        channel.pipeline.read()
    }

    @Test func aTricklingPeerIsReadEveryFiftyMillisecondsUntilItsMessageEnds() throws {
        let (channel, counter, _) = try Self.activeHandler()
        defer { _ = try? channel.finish() }
        let loop = channel.embeddedEventLoop
        var message = ByteBuffer()
        PeerMessage.unknown(id: 99, payload: ByteBuffer(repeating: 7, count: 4096)).encode(into: &message)

        // Four 64-byte reads, each leaving the message incomplete: each next read is asked for at once...
        let before = counter.reads
        for _ in 0..<4 { try Self.deliver(message.readSlice(length: 64)!, to: channel) }
        #expect(counter.reads == before + 3)
        // ...but the read after the fourth waits 50 ms.
        loop.advanceTime(by: .milliseconds(49))
        #expect(counter.reads == before + 3)
        loop.advanceTime(by: .milliseconds(1))
        #expect(counter.reads == before + 4)
        // Still trickling: a large (gathered) read keeps the spacing; asking twice schedules one read.
        try Self.deliver(message.readSlice(length: 2048)!, to: channel)
        channel.pipeline.read()
        #expect(counter.reads == before + 4)
        loop.advanceTime(by: .milliseconds(50))
        #expect(counter.reads == before + 5)
        // The rest of the message ends on a boundary: reads go through at once again.
        try Self.deliver(message.readSlice(length: message.readableBytes)!, to: channel)
        #expect(counter.reads == before + 6)
        #expect(channel.isActive)
    }

    @Test func withoutSpacingEveryReadGoesThroughAtOnce() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        defer { _ = try? channel.finish() }
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandlers([
            counter, PeerChannelHandler(machine: nil, tickInterval: nil, trickledReads: nil),
        ])
        for _ in 0..<10 { channel.pipeline.read() }
        #expect(counter.reads == 10)
    }
}
