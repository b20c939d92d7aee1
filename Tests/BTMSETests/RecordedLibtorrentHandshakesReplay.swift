import NIOCore
import Testing

@testable import BTMSE

/// Replays a recorded real handshake with libtorrent 2.0.8 (forced RC4; recorded by
/// `LibtorrentSpeaksMSEWithUs` with NBT_RECORD_MSE=1) against a machine with the same fixed private key and
/// pads: it must send exactly the bytes we sent then, whatever the splits of what it receives, and decrypt
/// libtorrent's BitTorrent handshake and messages.
struct RecordedLibtorrentHandshakesReplay {
    struct Replay {
        var sent: [UInt8] = []
        var payload: [UInt8] = []
        var result: MSEHandshakeResult?
        var error: MSEError?
    }

    /// Feeds `received` in chunks of 1...`maxChunk` bytes; sends `after` through the outgoing cipher on
    /// completion, as the live driver did.
    static func replay(
        initiator: MSEInitiator? = nil, responder: MSEResponder? = nil, received: [UInt8], after: [UInt8],
        maxChunk: Int, seed: UInt64
    ) -> Replay {
        var initiator = initiator
        var responder = responder
        var replay = Replay()
        if var machine = initiator, case .send(let first) = machine.start() {
            replay.sent += first.readableBytesView
            initiator = machine
        }
        var rng = MSETestSupport.SeededGenerator(seed: seed)
        var position = 0
        while position < received.count && replay.error == nil {
            let end = min(received.count, position + Int.random(in: 1...maxChunk, using: &rng))
            let chunk = Array(received[position..<end])
            position = end
            if var done = replay.result {
                var bytes = chunk
                done.incoming?.apply(to: &bytes)
                replay.payload += bytes
                replay.result = done
                continue
            }
            let actions: [MSEAction]
            if var machine = initiator {
                actions = machine.receive(ByteBuffer(bytes: chunk))
                initiator = machine
            } else {
                actions = responder!.receive(ByteBuffer(bytes: chunk))
            }
            for action in actions {
                switch action {
                case .send(let bytes): replay.sent += bytes.readableBytesView
                case .fail(let error): replay.error = error
                case .complete(var done):
                    replay.payload += done.payload.readableBytesView
                    var more = after
                    done.outgoing?.apply(to: &more)
                    replay.sent += more
                    replay.result = done
                }
            }
        }
        return replay
    }

    @Test(arguments: [1, 13, 100_000])
    func ourInitiatorReplaysTheLibtorrentSeedTranscript(maxChunk: Int) throws {
        let transcript = try MSETranscript(fixture: "libtorrent-seed-initiator.transcript")
        #expect(transcript.role == "initiator" && transcript.received.count > 96 + 8)
        let initiator = try MSEInitiator(
            skey: transcript.infoHash, provide: .rc4, initialPayload: transcript.initialPayload,
            randomness: transcript.randomness)
        let replay = Self.replay(
            initiator: initiator, received: transcript.received, after: transcript.afterHandshake,
            maxChunk: maxChunk, seed: UInt64(maxChunk))
        #expect(replay.error == nil)
        #expect(replay.result?.method == .rc4)
        #expect(replay.sent == transcript.sent)
        let stream = try #require(bitTorrentStream(replay.payload))
        #expect(Array(stream.handshake[28..<48]) == transcript.infoHash)
        #expect(stream.messageIDs.contains(5) && stream.messageIDs.contains(1))
    }

    @Test(arguments: [1, 13, 100_000])
    func ourResponderReplaysTheLibtorrentLeecherTranscript(maxChunk: Int) throws {
        let transcript = try MSETranscript(fixture: "libtorrent-leecher-responder.transcript")
        #expect(transcript.role == "responder" && transcript.received.count > 96 + 20)
        let responder = MSEResponder(
            index: SKEYIndex([transcript.infoHash]), allowed: .rc4, randomness: transcript.randomness)
        let replay = Self.replay(
            responder: responder, received: transcript.received, after: transcript.afterHandshake,
            maxChunk: maxChunk, seed: UInt64(maxChunk))
        #expect(replay.error == nil)
        #expect(replay.result?.method == .rc4 && replay.result?.skey == transcript.infoHash)
        #expect(replay.sent == transcript.sent)
        let stream = try #require(bitTorrentStream(replay.payload))
        #expect(Array(stream.handshake[28..<48]) == transcript.infoHash)
        #expect(stream.messageIDs.contains(2))
    }

    /// A corrupted public key in the recording makes both sides derive another S, so the initiator finds no
    /// VC and the responder no `HASH('req1', S)`: `HANDSHAKE_SYNC_DH5`. A responder that does not serve the
    /// torrent refuses it with `HANDSHAKE_INFOHASH`.
    @Test func corruptedRecordingsFailWithTheSeedReasons() throws {
        let seed = try MSETranscript(fixture: "libtorrent-seed-initiator.transcript")
        var received = seed.received
        received[95] ^= 0x01
        let initiator = try MSEInitiator(
            skey: seed.infoHash, provide: .rc4, initialPayload: seed.initialPayload, randomness: seed.randomness)
        let failed = Self.replay(initiator: initiator, received: received, after: [], maxChunk: 50, seed: 1)
        #expect(failed.error?.code == .syncNotFound && failed.error?.seedReason == "HANDSHAKE_SYNC_DH5")

        let leecher = try MSETranscript(fixture: "libtorrent-leecher-responder.transcript")
        var corrupted = leecher.received
        corrupted[95] ^= 0x01
        let responder = MSEResponder(
            index: SKEYIndex([leecher.infoHash]), allowed: .rc4, randomness: leecher.randomness)
        let lost = Self.replay(responder: responder, received: corrupted, after: [], maxChunk: 50, seed: 2)
        #expect(lost.error?.code == .syncNotFound && lost.error?.seedReason == "HANDSHAKE_SYNC_DH5")

        let stranger = MSEResponder(
            index: SKEYIndex([[UInt8](repeating: 1, count: 20)]), allowed: .rc4, randomness: leecher.randomness)
        let unknown = Self.replay(responder: stranger, received: leecher.received, after: [], maxChunk: 50, seed: 3)
        #expect(unknown.error?.code == .unknownInfoHash && unknown.error?.seedReason == "HANDSHAKE_INFOHASH")
    }
}
