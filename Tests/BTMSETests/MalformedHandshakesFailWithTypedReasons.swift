import NIOCore
import Testing

@testable import BTMSE

/// A hand-scripted peer: builds each MSE message field by field, so that every field can be wrong.
struct ScriptedPeer {
    let keyPair = MSEKeyPair(privateKey: [UInt8](repeating: 0x5c, count: 20))
    let skey = [UInt8](repeating: 0xab, count: 20)

    /// Step 3 from an initiator: plaintext hashes, then the encrypted fields exactly as given.
    func step3(
        secret: [UInt8], skey: [UInt8]? = nil, vc: [UInt8] = MSELimits.verificationConstant, provide: UInt32 = 2,
        padLength: UInt16 = 0, iaLength: UInt16 = 0, ia: [UInt8] = []
    ) -> [UInt8] {
        var encrypted = vc
        encrypted += withUnsafeBytes(of: provide.bigEndian) { Array($0) }
        encrypted += withUnsafeBytes(of: padLength.bigEndian) { Array($0) }
        encrypted += [UInt8](repeating: 0, count: min(Int(padLength), 600))
        encrypted += withUnsafeBytes(of: iaLength.bigEndian) { Array($0) }
        encrypted += ia
        var cipher = MSEKeys.initiatorToResponder(secret: secret, skey: skey ?? self.skey)
        cipher.apply(to: &encrypted)
        return MSEKeys.req1(secret) + MSEKeys.obfuscatedSKEY(skey ?? self.skey, secret: secret) + encrypted
    }

    /// Step 4 from a responder: the encrypted VC, crypto_select and PadD exactly as given.
    func step4(secret: [UInt8], select: UInt32, padLength: UInt16 = 0) -> [UInt8] {
        var encrypted = MSELimits.verificationConstant
        encrypted += withUnsafeBytes(of: select.bigEndian) { Array($0) }
        encrypted += withUnsafeBytes(of: padLength.bigEndian) { Array($0) }
        encrypted += [UInt8](repeating: 0, count: min(Int(padLength), 600))
        var cipher = MSEKeys.responderToInitiator(secret: secret, skey: skey)
        cipher.apply(to: &encrypted)
        return encrypted
    }
}

/// Feeds `bytes` to a responder one byte at a time; returns its failure, if any, and whether it completed.
func feed(_ responder: inout MSEResponder, _ bytes: [UInt8]) -> (error: MSEError?, completed: Bool, sent: [UInt8]) {
    var error: MSEError?
    var completed = false
    var sent: [UInt8] = []
    for byte in bytes {
        for action in responder.receive(ByteBuffer(bytes: [byte])) {
            switch action {
            case .fail(let e): error = e
            case .complete: completed = true
            case .send(let out): sent += out.readableBytesView
            }
        }
    }
    return (error, completed, sent)
}

func feed(_ initiator: inout MSEInitiator, _ bytes: [UInt8]) -> (error: MSEError?, completed: Bool, sent: [UInt8]) {
    var error: MSEError?
    var completed = false
    var sent: [UInt8] = []
    for byte in bytes {
        for action in initiator.receive(ByteBuffer(bytes: [byte])) {
            switch action {
            case .fail(let e): error = e
            case .complete: completed = true
            case .send(let out): sent += out.readableBytesView
            }
        }
    }
    return (error, completed, sent)
}

struct ResponderCase: Sendable, CustomStringConvertible {
    var name: String
    var expected: MSEError.Code
    var vc: [UInt8] = MSELimits.verificationConstant
    var provide: UInt32 = 2
    var padLength: UInt16 = 0
    var iaLength: UInt16 = 0
    var skey: [UInt8]? = nil
    var allowed: MSECryptoMethods = [.plaintext, .rc4]
    var description: String { name }

    static let all: [ResponderCase] = [
        ResponderCase(name: "VC not zero", expected: .invalidVerificationConstant, vc: [0, 0, 0, 0, 0, 0, 0, 1]),
        ResponderCase(name: "provide nothing", expected: .noCommonMethod, provide: 0),
        ResponderCase(name: "provide unknown bits only", expected: .noCommonMethod, provide: 0xfc),
        ResponderCase(name: "plaintext offered, RC4 required", expected: .noCommonMethod, provide: 1, allowed: .rc4),
        ResponderCase(name: "PadC 513", expected: .padTooLong, padLength: 513),
        ResponderCase(name: "PadC 65535", expected: .padTooLong, padLength: 65535),
        ResponderCase(name: "IA 69", expected: .initialPayloadTooLong, iaLength: 69),
        ResponderCase(name: "IA 65535", expected: .initialPayloadTooLong, iaLength: 65535),
        ResponderCase(name: "unknown torrent", expected: .unknownInfoHash, skey: [UInt8](repeating: 0xcd, count: 20)),
    ]
}

/// Every malformed field of step 3 ends the responder's handshake with its own code (and the seed
/// reason it maps to), without sending step 4, and the machine stays quiet afterwards.
@Test(arguments: ResponderCase.all)
func responderRefusesMalformedStep3(_ badCase: ResponderCase) throws {
    let peer = ScriptedPeer()
    var responder = MSEResponder(
        index: SKEYIndex([peer.skey]), allowed: badCase.allowed,
        randomness: MSETestSupport.randomness(seed: 5, clearPad: 10, encryptedPad: 0))
    let first = feed(&responder, peer.keyPair.publicKey + [1, 2, 3])
    #expect(first.error == nil && first.sent.count == 96 + 10)
    let secret = try #require(peer.keyPair.sharedSecret(with: first.sent.prefix(96)))
    let step3 = peer.step3(
        secret: secret, skey: badCase.skey, vc: badCase.vc, provide: badCase.provide, padLength: badCase.padLength,
        iaLength: badCase.iaLength)
    let outcome = feed(&responder, step3)
    #expect(outcome.error?.code == badCase.expected)
    #expect(!outcome.completed && outcome.sent.isEmpty)
    let reason = badCase.expected == .unknownInfoHash ? "HANDSHAKE_INFOHASH" : "MALFORMED_HANDSHAKE"
    #expect(outcome.error?.seedReason == reason)
    #expect(responder.receive(ByteBuffer(bytes: [0, 0, 0])).isEmpty)
}

/// The responder searches for `HASH('req1', S)` within 512 + 20 bytes after Ya: 531 bytes of garbage
/// still wait, the 532nd fails with `HANDSHAKE_SYNC_DH5`; a hash right at offset 512 is found.
@Test func responderSyncWindowIsTheSpecs() throws {
    let peer = ScriptedPeer()
    func fresh() -> MSEResponder { MSEResponder(index: SKEYIndex([peer.skey]), allowed: .rc4) }
    var responder = fresh()
    let waiting = feed(&responder, peer.keyPair.publicKey + [UInt8](repeating: 0xee, count: 531))
    #expect(waiting.error == nil && !waiting.completed)
    let failed = feed(&responder, [0xee])
    #expect(failed.error?.code == .syncNotFound && failed.error?.seedReason == "HANDSHAKE_SYNC_DH5")

    var edge = fresh()
    let sent = feed(&edge, peer.keyPair.publicKey).sent
    let secret = try #require(peer.keyPair.sharedSecret(with: sent.prefix(96)))
    let done = feed(&edge, [UInt8](repeating: 0xee, count: 512) + peer.step3(secret: secret))
    #expect(done.error == nil && done.completed)
}

/// Public keys 0, 1 and P − 1 are refused by both roles before any secret is used.
@Test func invalidPublicKeysEndTheHandshake() throws {
    let peer = ScriptedPeer()
    let p = Montgomery768.bigEndianBytes(Montgomery768.prime)
    var pMinusOne = p
    pMinusOne[95] -= 1
    for bad in [[UInt8](repeating: 0, count: 96), [UInt8](repeating: 0, count: 95) + [1], pMinusOne, p] {
        var responder = MSEResponder(index: SKEYIndex([peer.skey]), allowed: .rc4)
        #expect(feed(&responder, bad).error?.code == .invalidPublicKey)
        var initiator = try MSEInitiator(skey: peer.skey, provide: .rc4, initialPayload: [])
        _ = initiator.start()
        let outcome = feed(&initiator, bad)
        #expect(outcome.error?.code == .invalidPublicKey && outcome.sent.isEmpty)
    }
}

/// The initiator searches for ENCRYPT(VC) within 512 + 8 bytes after Yb: 519 bytes wait, the 520th fails
/// with `HANDSHAKE_SYNC_DH5`.
@Test func initiatorSyncWindowIsTheSpecs() throws {
    let peer = ScriptedPeer()
    var initiator = try MSEInitiator(skey: peer.skey, provide: .rc4, initialPayload: [])
    _ = initiator.start()
    let waiting = feed(&initiator, peer.keyPair.publicKey + [UInt8](repeating: 0xee, count: 519))
    #expect(waiting.error == nil && waiting.sent.count > 40)
    let failed = feed(&initiator, [0xee])
    #expect(failed.error?.code == .syncNotFound && failed.error?.seedReason == "HANDSHAKE_SYNC_DH5")
}

struct InitiatorCase: Sendable, CustomStringConvertible {
    var select: UInt32
    var provide: MSECryptoMethods
    var padLength: UInt16 = 0
    var expected: MSEError.Code = .invalidSelection
    var description: String { "select \(select) for \(provide), PadD \(padLength)" }

    static let all: [InitiatorCase] = [
        InitiatorCase(select: 0, provide: .rc4),
        InitiatorCase(select: 3, provide: [.plaintext, .rc4]),
        InitiatorCase(select: 1, provide: .rc4),
        InitiatorCase(select: 2, provide: .plaintext),
        InitiatorCase(select: 0x100, provide: [.plaintext, .rc4]),
        InitiatorCase(select: 2, provide: .rc4, padLength: 513, expected: .padTooLong),
    ]
}

/// crypto_select must be exactly one method the initiator offered, and PadD at most 512 bytes.
@Test(arguments: InitiatorCase.all)
func initiatorRefusesMalformedStep4(_ badCase: InitiatorCase) throws {
    let peer = ScriptedPeer()
    var initiator = try MSEInitiator(skey: peer.skey, provide: badCase.provide, initialPayload: [])
    guard case .send(let step1) = initiator.start() else { throw MSEError(.syncNotFound, "no step 1") }
    let secret = try #require(peer.keyPair.sharedSecret(with: step1.getBytes(at: step1.readerIndex, length: 96)!))
    let step4 = peer.step4(secret: secret, select: badCase.select, padLength: badCase.padLength)
    let outcome = feed(&initiator, peer.keyPair.publicKey + [9, 9] + step4)
    #expect(outcome.error?.code == badCase.expected && !outcome.completed)
    #expect(initiator.receive(ByteBuffer(bytes: [0])).isEmpty)
}

/// The initiator refuses to start with an IA longer than 68 bytes or nothing to offer.
@Test func initiatorConfigurationIsChecked() {
    #expect(throws: MSEError.self) {
        try MSEInitiator(
            skey: [UInt8](repeating: 1, count: 20), provide: .rc4, initialPayload: [UInt8](repeating: 0, count: 69))
    }
    #expect(throws: MSEError.self) {
        try MSEInitiator(skey: [UInt8](repeating: 1, count: 20), provide: [], initialPayload: [])
    }
}
