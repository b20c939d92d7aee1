import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import BTMSE

/// Our responder handler behind a raw loopback client (no MSE on the client: it writes exactly the bytes a
/// case needs) or behind our initiator handler: every refusal is reported once as a typed ``MSEError``,
/// the channel is closed, nothing reaches the wire above, and nothing crashes or hangs.
@Suite(.serialized) struct ChannelHandlerRefusesWithTypedReasons {
    static let skey = [UInt8](repeating: 0xab, count: 20)

    /// Runs a responder under `policy` against a raw client that writes `first` when connected and then
    /// `answer(received)` once; returns the responder's record after it reported.
    static func refuse(
        policy: EncryptionPolicy, timeout: TimeAmount = .seconds(30), first: [UInt8],
        answer: @escaping @Sendable ([UInt8]) -> [UInt8]? = { _ in nil }
    ) async throws -> (server: ChannelRecord.Facts, client: ChannelRecord.Facts) {
        let group = MultiThreadedEventLoopGroup.singleton
        let serverRecord = ChannelRecord()
        let clientRecord = ChannelRecord()
        let pair = try await LoopbackPair.start(group: group) { _ in
            [
                RawTap(serverRecord),
                MSEChannelHandler.responder(
                    policy: policy, handshakeTimeout: timeout,
                    randomness: MSETestSupport.randomness(seed: 9, clearPad: 0, encryptedPad: 0),
                    index: { SKEYIndex([skey]) }, onResult: serverRecord.report),
                TestWire(record: serverRecord, expected: Int.max),
            ]
        }
        let client = try await pair.connect {
            [
                RawTap(clientRecord),
                TestWire(record: clientRecord, onActive: [first], expected: Int.max, onRead: answer),
            ]
        }
        let settled = await eventually(20) { serverRecord.snapshot.result != nil && clientRecord.snapshot.closed }
        #expect(settled)
        try? await client.close()
        try await pair.shutdown()
        return (serverRecord.snapshot, clientRecord.snapshot)
    }

    static func code(_ facts: ChannelRecord.Facts) -> MSEError.Code? {
        guard case .failure(let error) = facts.result else { return nil }
        return error.code
    }

    @Test func plaintextHandshakeIsRefusedWhenEncryptionIsRequired() async throws {
        let (server, _) = try await Self.refuse(
            policy: .required, first: MSETestSupport.bitTorrentHandshake(infoHash: Self.skey, peerID: 3))
        #expect(Self.code(server) == .plaintextRefused && server.results == 1)
        #expect(server.app.isEmpty && server.rawOut.isEmpty)
    }

    @Test func mseHandshakeIsRefusedWhenEncryptionIsDisabled() async throws {
        let keyPair = MSEKeyPair(privateKey: [UInt8](repeating: 0x31, count: 20))
        let (server, _) = try await Self.refuse(policy: .none, first: keyPair.publicKey)
        #expect(Self.code(server) == .encryptionRefused && server.results == 1)
        #expect(server.app.isEmpty && server.rawOut.isEmpty)
    }

    /// 2,000 random bytes: a public key (any 96 bytes in [2, P − 2]) and no `HASH('req1', S)` within
    /// 512 + 20 bytes after it: `HANDSHAKE_SYNC_DH5`, after sending only Yb.
    @Test func garbageFailsTypedWithoutACrash() async throws {
        var rng = MSETestSupport.SeededGenerator(seed: 77)
        let garbage = [0xfe] + MSETestSupport.randomBytes(1999, using: &rng)
        let (server, _) = try await Self.refuse(policy: .preferred, first: garbage)
        #expect(Self.code(server) == .syncNotFound && server.results == 1)
        if case .failure(let error) = server.result { #expect(error.seedReason == "HANDSHAKE_SYNC_DH5") }
        #expect(server.app.isEmpty && server.rawOut.count == 96)
    }

    /// A real step 3 announcing PadC of 513 bytes (the spec's maximum is 512) is refused before the pad is
    /// read.
    @Test func oversizedPaddingIsRefused() async throws {
        let peer = ScriptedPeer()
        let (server, client) = try await Self.refuse(policy: .preferred, first: peer.keyPair.publicKey) { received in
            guard received.count >= 96, let secret = peer.keyPair.sharedSecret(with: received.prefix(96)) else {
                return nil
            }
            return peer.step3(secret: secret, padLength: 513)
        }
        #expect(Self.code(server) == .padTooLong && server.results == 1)
        #expect(server.app.isEmpty && client.app.count == 96)
    }

    /// A peer that sends ten bytes and then nothing fails with ``MSEError/Code/handshakeTimeout`` after the
    /// injected 300 ms.
    @Test func stalledHandshakeTimesOut() async throws {
        let started = ContinuousClock.now
        let (server, _) = try await Self.refuse(
            policy: .preferred, timeout: .milliseconds(300), first: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        #expect(Self.code(server) == .handshakeTimeout && server.results == 1)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }

    /// The responder asks its index when a handshake starts: a torrent added after the handler was made is
    /// found, one not there yet is refused with `HANDSHAKE_INFOHASH`; the refused initiator reports the
    /// closed connection (the engine's cue to redial in plaintext under `preferred`), and its held
    /// handshake write fails instead of hanging.
    @Test func responderSeesTheTorrentsOfTheMomentAndTheInitiatorReportsTheClose() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let served = Mutex(SKEYIndex())
        let serverRecords = Mutex([ChannelRecord]())
        let pair = try await LoopbackPair.start(group: group) { _ in
            let record = ChannelRecord()
            serverRecords.withLock { $0.append(record) }
            return [
                MSEChannelHandler.responder(
                    policy: .preferred, index: { served.withLock { $0 } }, onResult: record.report),
                TestWire(record: record, expected: 68) {
                    $0.count >= 68 ? MSETestSupport.bitTorrentHandshake(infoHash: Self.skey, peerID: 2) : nil
                },
            ]
        }
        let handshake = MSETestSupport.bitTorrentHandshake(infoHash: Self.skey, peerID: 1)
        for attempt in 0..<2 {
            if attempt == 1 { served.withLock { $0.insert(Self.skey) } }
            let clientRecord = ChannelRecord()
            let client = try await pair.connect {
                [
                    MSEChannelHandler.initiator(skey: Self.skey, policy: .preferred, onResult: clientRecord.report),
                    TestWire(record: clientRecord, onActive: [handshake], expected: 68),
                ]
            }
            let settled = await eventually(20) {
                clientRecord.snapshot.result != nil && serverRecords.withLock { $0.count == attempt + 1 }
                    && serverRecords.withLock { $0[attempt] }.snapshot.result != nil
            }
            #expect(settled)
            let server = serverRecords.withLock { $0[attempt] }.snapshot
            if attempt == 0 {
                #expect(Self.code(server) == .unknownInfoHash)
                if case .failure(let error) = server.result { #expect(error.seedReason == "HANDSHAKE_INFOHASH") }
                #expect(Self.code(clientRecord.snapshot) == .closedDuringHandshake)
                #expect(clientRecord.snapshot.app.isEmpty)
            } else {
                #expect(try server.result?.get() == .rc4(skey: Self.skey))
                #expect(try clientRecord.snapshot.result?.get() == .rc4(skey: Self.skey))
                let replied = await eventually { clientRecord.snapshot.app.count == 68 }
                #expect(replied)
            }
            try? await client.close()
        }
        try await pair.shutdown()
    }
}
