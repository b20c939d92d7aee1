import NIOCore
import Testing

@testable import BTMSE

/// One configuration of a back-to-back handshake.
struct PairCase: Sendable, CustomStringConvertible {
    var provide: MSECryptoMethods
    var allowed: MSECryptoMethods
    var expected: MSECryptoMethod
    var clearPad: Int
    var encryptedPad: Int
    var initialPayload: Bool

    var description: String {
        "provide \(provide) allowed \(allowed) pads \(clearPad)/\(encryptedPad) IA \(initialPayload)"
    }

    static let all: [PairCase] = [
        PairCase(
            provide: [.plaintext, .rc4], allowed: [.plaintext, .rc4], expected: .rc4, clearPad: 0, encryptedPad: 0,
            initialPayload: true),
        PairCase(provide: .rc4, allowed: .rc4, expected: .rc4, clearPad: 512, encryptedPad: 512, initialPayload: true),
        PairCase(
            provide: .rc4, allowed: [.plaintext, .rc4], expected: .rc4, clearPad: 17, encryptedPad: 3,
            initialPayload: false),
        PairCase(
            provide: .plaintext, allowed: [.plaintext, .rc4], expected: .plaintext, clearPad: 300, encryptedPad: 0,
            initialPayload: true),
        PairCase(
            provide: [.plaintext, .rc4], allowed: .plaintext, expected: .plaintext, clearPad: 512, encryptedPad: 512,
            initialPayload: false),
    ]
}

/// Both machines complete with the same method and SKEY, and the payload stream that follows (the
/// initiator's IA, the responder's reply sent with step 4, the initiator's next bytes) arrives intact
/// through the returned ciphers, whatever the splits: drip-fed, batched, random.
@Test(arguments: PairCase.all, [MSEPair.Split.dripFed, .batched, .random(max: 7), .random(max: 700)])
func handshakesCompleteBackToBackInAnySplit(_ pairCase: PairCase, _ split: MSEPair.Split) throws {
    let infoHash = [UInt8](repeating: 0xab, count: 20)
    let ia = pairCase.initialPayload ? MSETestSupport.bitTorrentHandshake(infoHash: infoHash, peerID: 1) : []
    let initiator = try MSEInitiator(
        skey: infoHash, provide: pairCase.provide, initialPayload: ia,
        randomness: MSETestSupport.randomness(seed: 1, clearPad: pairCase.clearPad, encryptedPad: pairCase.encryptedPad)
    )
    var index = SKEYIndex([[UInt8](repeating: 0x11, count: 20), [UInt8](repeating: 0x22, count: 32)])
    index.insert(infoHash)
    let responder = MSEResponder(
        index: index, allowed: pairCase.allowed,
        randomness: MSETestSupport.randomness(seed: 2, clearPad: pairCase.clearPad, encryptedPad: pairCase.encryptedPad)
    )
    var pair = MSEPair(initiator: initiator, responder: responder, split: split, seed: 3)
    let reply = MSETestSupport.bitTorrentHandshake(infoHash: infoHash, peerID: 2) + [0, 0, 0, 2, 5, 0xff]
    let next =
        (pairCase.initialPayload ? [] : MSETestSupport.bitTorrentHandshake(infoHash: infoHash, peerID: 1))
        + [0, 0, 0, 1, 2]
    pair.responderSendsOnCompletion = reply
    pair.initiatorSendsOnCompletion = next
    pair.run()
    #expect(pair.initiatorError == nil && pair.responderError == nil)
    let a = try #require(pair.initiatorResult)
    let b = try #require(pair.responderResult)
    #expect(a.method == pairCase.expected && b.method == pairCase.expected)
    #expect(a.skey == infoHash && b.skey == infoHash)
    #expect((a.outgoing != nil) == (pairCase.expected == .rc4) && (b.incoming != nil) == (pairCase.expected == .rc4))
    #expect(pair.payloadAtResponder == ia + next)
    #expect(pair.payloadAtInitiator == reply)
}

/// A v2 torrent is found by its SHA-256 info-hash truncated to 20 bytes (BEP 52), and the index can drop it.
@Test func responderFindsAV2TorrentByItsTruncatedHash() throws {
    let v2 = (0..<32).map { UInt8($0) }
    var index = SKEYIndex()
    index.insert(v2)
    #expect(index.count == 1)
    let initiator = try MSEInitiator(skey: Array(v2.prefix(20)), provide: .rc4, initialPayload: [])
    var pair = MSEPair(
        initiator: initiator, responder: MSEResponder(index: index, allowed: .rc4), split: .random(max: 50), seed: 9)
    pair.run()
    #expect(pair.responderResult?.skey == Array(v2.prefix(20)))
    index.remove(v2)
    #expect(index.count == 0 && index.skey(forReq2: SKEYIndex.req2(v2.prefix(20))) == nil)
}

/// The spec's constants: VC is eight zero bytes, the methods are bits 0x01 and 0x02, pads are at most 512
/// bytes, and the policy maps to the methods offered.
@Test func constantsAreTheSpecs() {
    #expect(MSELimits.verificationConstant == [0, 0, 0, 0, 0, 0, 0, 0])
    #expect(MSECryptoMethods.plaintext.rawValue == 1 && MSECryptoMethods.rc4.rawValue == 2)
    #expect(MSELimits.maxPadLength == 512 && MSELimits.maxInitialPayloadLength == 68)
    #expect(EncryptionPolicy.none.cryptoMethods == nil)
    #expect(EncryptionPolicy.preferred.cryptoMethods == [.plaintext, .rc4])
    #expect(EncryptionPolicy.required.cryptoMethods == .rc4)
    #expect(MSEKeyPair.publicKeyLength == 96)
    // The spec's 768-bit prime, and the Montgomery constants derived from it.
    let spec =
        "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404dd"
        + "ef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a36210000000000090563"
    #expect(MSETestSupport.hex(Montgomery768.bigEndianBytes(Montgomery768.prime)) == spec)
    #expect(Montgomery768.n0inv &* Montgomery768.prime[0] == UInt64.max)
}
