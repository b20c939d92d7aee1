import BTMetainfo
import NIOCore
import NIOEmbedded
import Testing

@testable import BTWire

/// Issue 12: a peer that trickles a message (a few bytes per segment) gets its reads spaced out, so the
/// kernel gathers its segments and a read is no longer paid per segment; a fast honest peer's reads are
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

    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func smallReadsOfAMessageThatKeepsArrivingPast50msAreSpaced() {
        var detector = TrickleDetector(policy: TrickledReads())
        var undecoded = 0
        func read(_ bytes: Int, atMilliseconds ms: Int64) {
            undecoded += bytes
            detector.observe(read: bytes, undecoded: undecoded, now: Self.start + .milliseconds(ms))
        }
        // The message's first 49 ms: not yet.
        for ms in 0..<50 { read(1000, atMilliseconds: Int64(ms)) }
        #expect(!detector.spacesReads)
        // 50 ms after it began, still the same message, a small read: the next read waits.
        read(1000, atMilliseconds: 50)
        #expect(detector.spacesReads)
        // A large (gathered) read goes on at once; the next small one is spaced again.
        read(20_000, atMilliseconds: 70)
        #expect(!detector.spacesReads)
        read(900, atMilliseconds: 71)
        #expect(detector.spacesReads)
        // The message completes with nothing left over: back to reading at once.
        detector.observe(read: 64, undecoded: 0, now: Self.start + .milliseconds(90))
        #expect(!detector.spacesReads)
    }

    @Test func aFastStreamOfBlocksIsNeverSpaced() {
        // Reads of a few kilobytes that each complete a block and leave the start of the next: every read
        // begins a new message, so none is ever 50 ms old, however long the stream runs.
        var detector = TrickleDetector(policy: TrickledReads())
        for ms in 0..<2000 {
            detector.observe(read: 9000, undecoded: 3000 + ms % 7, now: Self.start + .milliseconds(Int64(ms)))
            #expect(!detector.spacesReads)
        }
        // A slow peer's block (16 KiB at 100 KB/s, a packet a read) is spaced after 50 ms, and the message
        // that follows starts the clock again.
        var undecoded = 0
        for ms in stride(from: 0, through: 60, by: 15) {
            undecoded += 1448
            detector.observe(read: 1448, undecoded: undecoded, now: Self.start + .milliseconds(Int64(3000 + ms)))
        }
        #expect(detector.spacesReads)
        detector.observe(read: 1448, undecoded: 200, now: Self.start + .milliseconds(3075))
        #expect(!detector.spacesReads)
    }

    @Test func aRunOfMessagesTrickledInTinyReadsIsSpacedThoughEachCompletesQuickly() {
        // 4 KiB messages in 64-byte reads, one read every 0.1 ms: each message completes within 7 ms, so no
        // single message is ever 50 ms old, but every read leaves one incomplete.
        var detector = TrickleDetector(policy: TrickledReads())
        let message = 4096
        var received = 0
        var step: Int64 = 0
        func read(_ bytes: Int) {
            received += bytes
            let undecoded = received % message == 0 ? 1 : received % message  // never on a boundary
            detector.observe(read: bytes, undecoded: undecoded, now: Self.start + .microseconds(step * 100))
            step += 1
        }
        for _ in 0..<500 {
            read(64)
            #expect(!detector.spacesReads, "at \(step) reads")
        }
        read(64)
        #expect(detector.spacesReads, "50 ms of reads averaging 64 bytes")
        // The spaced read gathers 20 ms of segments: large, but it does not end the spacing it caused.
        read(12_800)
        #expect(detector.spacesReads)
        // A read that ends on a message boundary ends the run.
        detector.observe(read: 64, undecoded: 0, now: Self.start + .milliseconds(80))
        #expect(!detector.spacesReads)
    }

    @Test func anHonestStreamOfSegmentSizedReadsIsNotSpacedByTheRunRule() {
        // A 10 MB/s peer over a 1,500-byte MTU path: a 1,448-byte segment a read, blocks of 16,397 bytes back
        // to back, so every read leaves a block incomplete for seconds; each block completes within 2 ms.
        var detector = TrickleDetector(policy: TrickledReads())
        var received = 0
        for step in 0..<20_000 {
            received += 1448
            let undecoded = max(1, received % 16_397)
            detector.observe(
                read: 1448, undecoded: undecoded, now: Self.start + .microseconds(Int64(step) * 145))
            #expect(!detector.spacesReads, "read \(step)")
            if detector.spacesReads { break }
        }
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
        configuration.extensionHandshake.messages["nbt_test"] = 99  // the trickled message's extended id
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

    @Test func aTricklingPeersReadsWait20msOnceItsMessageIs50msOld() throws {
        let (channel, counter, _) = try Self.activeHandler()
        defer { _ = try? channel.finish() }
        let loop = channel.embeddedEventLoop
        var message = ByteBuffer()
        PeerMessage.extended(ExtendedMessage(id: 99, payload: ByteBuffer(repeating: 7, count: 32 * 1024))).encode(
            into: &message)

        // 64-byte reads every 10 ms: each next read is asked for at once while the message is young...
        let before = counter.reads
        for _ in 0..<5 {
            try Self.deliver(message.readSlice(length: 64)!, to: channel)
            loop.advanceTime(by: .milliseconds(10))
        }
        #expect(counter.reads == before + 5)
        // ...and 50 ms after it began, the next read waits 20 ms; asking twice meanwhile schedules one read.
        try Self.deliver(message.readSlice(length: 64)!, to: channel)
        channel.pipeline.read()
        #expect(counter.reads == before + 5)
        loop.advanceTime(by: .milliseconds(19))
        #expect(counter.reads == before + 5)
        loop.advanceTime(by: .milliseconds(1))
        #expect(counter.reads == before + 6)
        // A gathered read does not end the spacing of a peer whose reads averaged 64 bytes: the next read
        // waits 20 ms again. The rest of the message, ending on its boundary, ends the spacing.
        try Self.deliver(message.readSlice(length: 20_000)!, to: channel)
        #expect(counter.reads == before + 6)
        loop.advanceTime(by: .milliseconds(20))
        #expect(counter.reads == before + 7)
        try Self.deliver(message.readSlice(length: message.readableBytes)!, to: channel)
        #expect(counter.reads == before + 8)
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
