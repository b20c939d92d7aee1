import NIOCore
import Testing

@testable import BTMSE

/// Two ``MSEConnectionSetup`` machines (the byte path of ``MSEChannelHandler``) back to back: the
/// initiator's wire output held and released, the responder's reply held until settled, then both payload
/// streams through the returned ciphers, cut into chunks of at most `maxChunk` bytes (1: drip-fed).
struct SetupPair {
    var initiator: MSEConnectionSetup
    var responder: MSEConnectionSetup
    let index: SKEYIndex
    var rng: MSETestSupport.SeededGenerator
    let maxChunk: Int

    var initiatorStream: MSEEstablishedStream?
    var responderStream: MSEEstablishedStream?
    var initiatorError: MSEError?
    var responderError: MSEError?
    /// Raw bytes on the wire each way, and in flight.
    var towardsResponder: ArraySlice<UInt8> = []
    var towardsInitiator: ArraySlice<UInt8> = []
    var wire: [UInt8] = []
    /// What each side's wire (the handler above) received, decrypted.
    var initiatorApp: [UInt8] = []
    var responderApp: [UInt8] = []
    /// What each side's wire sends once the stream is settled.
    var initiatorLater: [UInt8] = []
    var responderReply: [UInt8] = []
    private var responderReplied = false

    init(initiator: MSEConnectionSetup, responder: MSEConnectionSetup, index: SKEYIndex, maxChunk: Int, seed: UInt64) {
        self.initiator = initiator
        self.responder = responder
        self.index = index
        self.maxChunk = maxChunk
        rng = MSETestSupport.SeededGenerator(seed: seed)
    }

    /// The initiator's wire wrote `first` before the connection was up; runs until nothing is in flight.
    mutating func run(initiatorFirst first: [UInt8]) {
        handleInitiator(initiator.hold(ByteBuffer(bytes: first)))
        handleInitiator(initiator.start())
        var rounds = 0
        while (!towardsResponder.isEmpty || !towardsInitiator.isEmpty) && rounds < 1_000_000 {
            rounds += 1
            if !towardsResponder.isEmpty {
                let n = min(towardsResponder.count, Int.random(in: 1...maxChunk, using: &rng))
                let chunk = Array(towardsResponder.prefix(n))
                towardsResponder.removeFirst(n)
                deliverToResponder(chunk)
            }
            if !towardsInitiator.isEmpty {
                let n = min(towardsInitiator.count, Int.random(in: 1...maxChunk, using: &rng))
                let chunk = Array(towardsInitiator.prefix(n))
                towardsInitiator.removeFirst(n)
                deliverToInitiator(chunk)
            }
        }
    }

    private mutating func deliverToResponder(_ chunk: [UInt8]) {
        if responderError != nil { return }
        if responderStream != nil {
            var bytes = chunk
            responderStream!.incoming?.apply(to: &bytes)
            responderApp += bytes
        } else {
            let index = self.index
            handleResponder(responder.receive(ByteBuffer(bytes: chunk), index: { index }))
        }
        // The responder's wire answers once it has the initiator's BitTorrent handshake, as BTWire does.
        if !responderReplied && responderApp.count >= 68 {
            responderReplied = true
            sendFromResponder(responderReply)
        }
    }

    private mutating func deliverToInitiator(_ chunk: [UInt8]) {
        if initiatorError != nil { return }
        if initiatorStream != nil {
            var bytes = chunk
            initiatorStream!.incoming?.apply(to: &bytes)
            initiatorApp += bytes
        } else {
            let index = self.index
            handleInitiator(initiator.receive(ByteBuffer(bytes: chunk), index: { index }))
        }
    }

    private mutating func sendFromResponder(_ bytes: [UInt8]) {
        if responderStream == nil {
            handleResponder(responder.hold(ByteBuffer(bytes: bytes)))
        } else {
            var bytes = bytes
            responderStream!.outgoing?.apply(to: &bytes)
            towardsInitiator += bytes
            wire += bytes
        }
    }

    private mutating func handleInitiator(_ actions: [MSEConnectionSetup.Action]) {
        for action in actions {
            switch action {
            case .send(let bytes):
                towardsResponder += bytes.readableBytesView
                wire += bytes.readableBytesView
            case .fail(let error):
                initiatorError = error
            case .established(let stream):
                initiatorStream = stream
                initiatorApp += stream.received.readableBytesView
                towardsResponder += stream.pendingOutput.readableBytesView
                wire += stream.pendingOutput.readableBytesView
                var later = initiatorLater
                initiatorStream!.outgoing?.apply(to: &later)
                towardsResponder += later
                wire += later
            }
        }
    }

    private mutating func handleResponder(_ actions: [MSEConnectionSetup.Action]) {
        for action in actions {
            switch action {
            case .send(let bytes):
                towardsInitiator += bytes.readableBytesView
                wire += bytes.readableBytesView
            case .fail(let error):
                responderError = error
            case .established(let stream):
                responderStream = stream
                responderApp += stream.received.readableBytesView
                towardsInitiator += stream.pendingOutput.readableBytesView
                wire += stream.pendingOutput.readableBytesView
            }
        }
    }
}

struct PolicyCase: Sendable, CustomStringConvertible {
    var initiator: EncryptionPolicy
    var responder: EncryptionPolicy
    /// The outcome both sides report, or the responder's failure.
    var outcome: MSEChannelOutcome?
    var responderFailure: MSEError.Code?

    var description: String { "\(initiator) → \(responder)" }

    static let skey = [UInt8](repeating: 0xab, count: 20)

    static let all: [PolicyCase] = [
        PolicyCase(initiator: .preferred, responder: .preferred, outcome: .rc4(skey: skey)),
        PolicyCase(initiator: .required, responder: .preferred, outcome: .rc4(skey: skey)),
        PolicyCase(initiator: .preferred, responder: .required, outcome: .rc4(skey: skey)),
        PolicyCase(initiator: .required, responder: .required, outcome: .rc4(skey: skey)),
        PolicyCase(initiator: .none, responder: .preferred, outcome: .plaintext),
        PolicyCase(initiator: .none, responder: .none, outcome: .plaintext),
        PolicyCase(initiator: .none, responder: .required, responderFailure: .plaintextRefused),
        PolicyCase(initiator: .preferred, responder: .none, responderFailure: .encryptionRefused),
        PolicyCase(initiator: .required, responder: .none, responderFailure: .encryptionRefused),
    ]
}

/// Every pair of policies settles as libtorrent's would (RC4 whenever both speak MSE, plaintext when the
/// initiator does not, a typed refusal when the responder's policy forbids the peer's kind), and when it
/// settles, every byte each wire wrote (handshake, bitfield, 20 KiB after) arrives once, in order, whatever
/// the split; with RC4 no plaintext BitTorrent handshake is ever on the wire.
@Test(arguments: PolicyCase.all, [1, 7, 700, 100_000])
func connectionSetupsSettleBackToBackInAnySplit(_ policyCase: PolicyCase, maxChunk: Int) {
    var rng = MSETestSupport.SeededGenerator(seed: UInt64(maxChunk))
    let skey = PolicyCase.skey
    var index = SKEYIndex([[UInt8](repeating: 0x11, count: 20)])
    index.insert(skey)
    let handshake = MSETestSupport.bitTorrentHandshake(infoHash: skey, peerID: 1)
    let extensionHandshake: [UInt8] = [0, 0, 0, 3, 20, 0, 0x64]
    let bulk = MSETestSupport.randomBytes(20_000, using: &rng)
    var pair = SetupPair(
        initiator: .initiator(
            skey: skey, policy: policyCase.initiator,
            randomness: MSETestSupport.randomness(seed: 1, clearPad: 33, encryptedPad: 5)),
        responder: .responder(
            policy: policyCase.responder, randomness: MSETestSupport.randomness(seed: 2, clearPad: 400, encryptedPad: 9)
        ), index: index, maxChunk: maxChunk, seed: 3)
    pair.initiatorLater = bulk
    let reply = MSETestSupport.bitTorrentHandshake(infoHash: skey, peerID: 2) + [0, 0, 0, 2, 5, 0xff] + bulk.reversed()
    pair.responderReply = reply
    pair.run(initiatorFirst: handshake + extensionHandshake)

    if let failure = policyCase.responderFailure {
        #expect(pair.responderError?.code == failure)
        #expect(pair.responderStream == nil && pair.responderApp.isEmpty)
        return
    }
    #expect(pair.initiatorError == nil && pair.responderError == nil)
    #expect(pair.initiatorStream?.outcome == policyCase.outcome)
    #expect(pair.responderStream?.outcome == policyCase.outcome)
    #expect(pair.responderApp == handshake + extensionHandshake + bulk)
    #expect(pair.initiatorApp == reply)
    let marker = MSEConnectionSetup.plaintextMarker
    let plaintextSeen = pair.wire.indices.dropLast(marker.count - 1).contains {
        pair.wire[$0..<($0 + marker.count)].elementsEqual(marker)
    }
    #expect(plaintextSeen == (policyCase.outcome == .plaintext))
}

/// The responder decides by the first bytes: a peer whose first 19 bytes match `\x13BitTorrent protocol`
/// keeps it waiting (no key exchange started), the 20th settles on plaintext and gives every sniffed byte
/// back; a first byte other than 19 starts MSE at once (Yb is sent after Ya's 96 bytes).
@Test func responderTellsPlaintextFromMSEByTheFirstBytes() {
    let marker = MSEConnectionSetup.plaintextMarker
    var plaintext = MSEConnectionSetup.responder(policy: .preferred)
    var asked = 0
    for byte in marker.dropLast() {
        #expect(
            plaintext.receive(
                ByteBuffer(bytes: [byte]),
                index: {
                    asked += 1; return SKEYIndex()
                }
            ).isEmpty)
    }
    let settled = plaintext.receive(ByteBuffer(bytes: [marker.last!, 0, 0]), index: { SKEYIndex() })
    guard case .established(let stream) = settled.first else {
        Issue.record("not settled: \(settled)")
        return
    }
    #expect(stream.outcome == .plaintext && stream.incoming == nil && stream.outgoing == nil)
    #expect(Array(stream.received.readableBytesView) == marker + [0, 0])
    #expect(asked == 0 && plaintext.isFinished)

    let peer = MSEKeyPair(privateKey: [UInt8](repeating: 0x21, count: 20))
    var mse = MSEConnectionSetup.responder(
        policy: .preferred, randomness: MSETestSupport.randomness(seed: 4, clearPad: 0, encryptedPad: 0))
    #expect(peer.publicKey[0] != 19)
    #expect(
        mse.receive(
            ByteBuffer(bytes: peer.publicKey.prefix(95)),
            index: {
                asked += 1; return SKEYIndex()
            }
        ).isEmpty)
    #expect(asked == 1)
    let yb = mse.receive(ByteBuffer(bytes: peer.publicKey.suffix(1)), index: { SKEYIndex() })
    guard case .send(let bytes) = yb.first else {
        Issue.record("no Yb: \(yb)")
        return
    }
    #expect(bytes.readableBytes == 96)
}

/// The initiator's output before the stream is settled is bounded: one byte past
/// ``MSELimits/maxHeldOutputBytes`` fails with a typed error, and so does the timer and a closed connection,
/// each exactly once.
@Test func heldOutputTimeoutAndCloseFailWithTypedReasons() {
    var setup = MSEConnectionSetup.initiator(skey: PolicyCase.skey, policy: .required)
    #expect(setup.hold(ByteBuffer(bytes: [UInt8](repeating: 1, count: MSELimits.maxHeldOutputBytes))).isEmpty)
    let overflow = setup.hold(ByteBuffer(bytes: [1]))
    guard case .fail(let error) = overflow.first else {
        Issue.record("no failure: \(overflow)")
        return
    }
    #expect(error.code == .heldOutputTooLong && setup.isFinished)
    #expect(setup.timedOut().isEmpty && setup.peerClosed().isEmpty)

    var waiting = MSEConnectionSetup.initiator(skey: PolicyCase.skey, policy: .preferred)
    _ = waiting.start()
    guard case .fail(let timeout) = waiting.timedOut().first else {
        Issue.record("no timeout")
        return
    }
    #expect(timeout.code == .handshakeTimeout && waiting.peerClosed().isEmpty)

    var closed = MSEConnectionSetup.responder(policy: .preferred)
    _ = closed.receive(ByteBuffer(bytes: [1, 2, 3]), index: { SKEYIndex() })
    guard case .fail(let close) = closed.peerClosed().first else {
        Issue.record("no close failure")
        return
    }
    #expect(close.code == .closedDuringHandshake)
}
