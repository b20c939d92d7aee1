import NIOCore
import NIOPosix
import Testing

@testable import BTMSE

/// Our initiator handler dials our responder handler over loopback TCP, each under a plaintext wire, with
/// every read cut into 1-byte or random chunks before it reaches the handler: both report RC4 for the same
/// torrent before the wire reads anything, the handshake, a bitfield and a random bulk arrive intact and in
/// order both ways, and no plaintext BitTorrent handshake is ever on the socket.
@Suite(.serialized) struct ChannelHandlersCarryTheWireOverLoopback {
    static let skey = [UInt8](repeating: 0x5a, count: 20)

    @Test(arguments: [(1, 3_000), (50, 100_000), (100_000, 400_000)])
    func encryptedBothWaysInAnyFragmentation(maxChunk: Int, bulkSize: Int) async throws {
        var rng = MSETestSupport.SeededGenerator(seed: UInt64(bulkSize))
        let bulk = MSETestSupport.randomBytes(bulkSize, using: &rng)
        let handshake = MSETestSupport.bitTorrentHandshake(infoHash: Self.skey, peerID: 1)
        let replyHandshake = MSETestSupport.bitTorrentHandshake(infoHash: Self.skey, peerID: 2)
        let bitfield: [UInt8] = [0, 0, 0, 3, 5, 0xff, 0xc0]
        let clientSends = handshake + [0, 0, 0, 1, 2] + bulk
        let serverSends = replyHandshake + bitfield + bulk.reversed()

        let group = MultiThreadedEventLoopGroup.singleton
        let serverRecord = ChannelRecord()
        let clientRecord = ChannelRecord()
        let index = SKEYIndex([[UInt8](repeating: 1, count: 20), Self.skey])
        let pair = try await LoopbackPair.start(group: group) { _ in
            [
                RawTap(serverRecord), ReadSplitter(maxChunk: maxChunk, seed: 7),
                MSEChannelHandler.responder(policy: .required, index: { index }, onResult: serverRecord.report),
                TestWire(record: serverRecord, expected: clientSends.count) { received in
                    // Answer once the peer's BitTorrent handshake is in, as BTWire does.
                    received.count >= 68 ? serverSends : nil
                },
            ]
        }
        let client = try await pair.connect {
            [
                RawTap(clientRecord), ReadSplitter(maxChunk: maxChunk, seed: 8),
                MSEChannelHandler.initiator(skey: Self.skey, policy: .preferred, onResult: clientRecord.report),
                // The bulk waits for the peer's handshake, as a wire's messages do (what a wire writes before
                // the handshake completes is held, and bounded).
                TestWire(record: clientRecord, onActive: [handshake, [0, 0, 0, 1, 2]], expected: serverSends.count) {
                    $0.count >= 68 ? bulk : nil
                },
            ]
        }
        let arrived = await eventually(60) {
            let (client, server) = (clientRecord.snapshot, serverRecord.snapshot)
            return client.closed || server.closed
                || (client.app.count >= serverSends.count && server.app.count >= clientSends.count)
        }
        let server = serverRecord.snapshot
        let clientFacts = clientRecord.snapshot
        #expect(
            arrived,
            "client got \(clientFacts.app.count)/\(serverSends.count), server \(server.app.count)/\(clientSends.count)")
        // Compared as Bools: a failed #expect on two large arrays would take minutes to describe.
        let clientGotAll = clientFacts.app == serverSends
        let serverGotAll = server.app == clientSends
        #expect(clientGotAll && serverGotAll)
        #expect(try clientFacts.result?.get() == .rc4(skey: Self.skey))
        #expect(try server.result?.get() == .rc4(skey: Self.skey))
        #expect(clientFacts.results == 1 && server.results == 1)
        #expect(clientFacts.handlerInPipelineAtLastRead == true && server.handlerInPipelineAtLastRead == true)
        #expect(!containsPlaintextMarker(clientFacts.rawOut) && !containsPlaintextMarker(clientFacts.rawIn))
        #expect(clientFacts.rawOut.count > clientSends.count && server.rawOut.count > serverSends.count)
        try await client.close()
        try await pair.shutdown()
    }

    /// With ``EncryptionPolicy/none`` the initiator does no MSE and leaves the pipeline; a `preferred`
    /// responder sees the plaintext handshake, passes every byte through untouched and leaves too.
    @Test func plaintextHandshakePassesThroughAndBothHandlersLeave() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let serverRecord = ChannelRecord()
        let clientRecord = ChannelRecord()
        let handshake = MSETestSupport.bitTorrentHandshake(infoHash: Self.skey, peerID: 1)
        let reply = MSETestSupport.bitTorrentHandshake(infoHash: Self.skey, peerID: 2) + [0, 0, 0, 2, 5, 0x80]
        let pair = try await LoopbackPair.start(group: group) { _ in
            [
                RawTap(serverRecord), ReadSplitter(maxChunk: 1, seed: 1),
                MSEChannelHandler.responder(policy: .preferred, index: { SKEYIndex() }, onResult: serverRecord.report),
                TestWire(record: serverRecord, expected: 73) { $0.count >= 68 ? reply : nil },
            ]
        }
        let client = try await pair.connect {
            [
                RawTap(clientRecord),
                MSEChannelHandler.initiator(skey: Self.skey, policy: .none, onResult: clientRecord.report),
                TestWire(record: clientRecord, onActive: [handshake, [0, 0, 0, 1, 2]], expected: reply.count),
            ]
        }
        let arrived = await eventually {
            clientRecord.snapshot.app.count >= reply.count && serverRecord.snapshot.app.count >= 73
        }
        #expect(arrived)
        let server = serverRecord.snapshot
        #expect(try server.result?.get() == .plaintext && (try clientRecord.snapshot.result?.get()) == .plaintext)
        #expect(server.app == handshake + [0, 0, 0, 1, 2] && server.rawIn == server.app)
        #expect(clientRecord.snapshot.app == reply && clientRecord.snapshot.rawIn == reply)
        #expect(server.handlerInPipelineAtLastRead == false)
        let clientHasHandler = try await client.eventLoop.submit {
            (try? client.pipeline.syncOperations.handler(type: MSEChannelHandler.self)) != nil
        }.get()
        #expect(!clientHasHandler)
        try await client.close()
        try await pair.shutdown()
    }
}
