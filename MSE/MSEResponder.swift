import NIOCore

/// The responding side of an MSE/PE handshake (the one that accepted the connection), as a pure state
/// machine: bytes in, ``MSEAction``s out. It owns no socket, clock or timer.
///
/// The exchange (the spec's steps; B is this side):
/// 1. A → B: Ya, PadA.
/// 2. B → A: Yb, PadB — sent as soon as Ya is in.
/// 3. A → B: `HASH('req1', S)`, `HASH('req2', SKEY) xor HASH('req3', S)`,
///    ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA).
/// 4. B → A: ENCRYPT(VC, crypto_select, len(PadD), PadD) — sent when IA is in; the handshake completes.
///
/// B finds step 3 by searching for `HASH('req1', S)` within 512 + 20 bytes after Ya, and the torrent by
/// looking `HASH('req2', SKEY)` up in its ``SKEYIndex``.
public struct MSEResponder: Sendable {
    struct AwaitingPublicKey: Sendable {
        let index: SKEYIndex
        let allowed: MSECryptoMethods
        let randomness: MSEHandshakeRandomness
    }

    struct AwaitingSynchronisation: Sendable {
        let index: SKEYIndex
        let allowed: MSECryptoMethods
        let encryptedPad: [UInt8]
        let secret: [UInt8]
        let req1: [UInt8]
        var searchedUpTo = 0
        init(_ previous: AwaitingPublicKey, secret: [UInt8]) {
            index = previous.index
            allowed = previous.allowed
            encryptedPad = previous.randomness.encryptedPad
            self.secret = secret
            req1 = MSEKeys.req1(secret)
        }
    }

    struct AwaitingSKEY: Sendable {
        let index: SKEYIndex
        let allowed: MSECryptoMethods
        let encryptedPad: [UInt8]
        let secret: [UInt8]
        init(_ previous: AwaitingSynchronisation) {
            index = previous.index
            allowed = previous.allowed
            encryptedPad = previous.encryptedPad
            secret = previous.secret
        }
    }

    struct AwaitingProvide: Sendable {
        let allowed: MSECryptoMethods
        let encryptedPad: [UInt8]
        let skey: [UInt8]
        var incoming: MSEStreamCipher
        var outgoing: MSEStreamCipher
        init(_ previous: AwaitingSKEY, skey: [UInt8]) {
            allowed = previous.allowed
            encryptedPad = previous.encryptedPad
            self.skey = skey
            incoming = MSEKeys.initiatorToResponder(secret: previous.secret, skey: skey)
            outgoing = MSEKeys.responderToInitiator(secret: previous.secret, skey: skey)
        }
    }

    struct AwaitingPadC: Sendable {
        let encryptedPad: [UInt8]
        let skey: [UInt8]
        let method: MSECryptoMethod
        let padLength: Int
        var incoming: MSEStreamCipher
        var outgoing: MSEStreamCipher
        init(_ previous: AwaitingProvide, incoming: MSEStreamCipher, method: MSECryptoMethod, padLength: Int) {
            encryptedPad = previous.encryptedPad
            skey = previous.skey
            outgoing = previous.outgoing
            self.incoming = incoming
            self.method = method
            self.padLength = padLength
        }
    }

    struct AwaitingInitialPayload: Sendable {
        let encryptedPad: [UInt8]
        let skey: [UInt8]
        let method: MSECryptoMethod
        let length: Int
        var incoming: MSEStreamCipher
        var outgoing: MSEStreamCipher
        init(_ previous: AwaitingPadC, incoming: MSEStreamCipher, length: Int) {
            encryptedPad = previous.encryptedPad
            skey = previous.skey
            method = previous.method
            outgoing = previous.outgoing
            self.incoming = incoming
            self.length = length
        }
    }

    enum State: Sendable {
        case awaitingPublicKey(AwaitingPublicKey)
        case awaitingSynchronisation(AwaitingSynchronisation)
        case awaitingSKEY(AwaitingSKEY)
        case awaitingProvide(AwaitingProvide)
        case awaitingPadC(AwaitingPadC)
        case awaitingInitialPayload(AwaitingInitialPayload)
        case finished
    }

    private(set) var state: State
    private let keyPair: MSEKeyPair
    /// Received bytes not consumed yet.
    private var received = ByteBuffer()

    /// A responder serving the torrents of `index`, accepting the methods in `allowed` (RC4 is selected
    /// whenever both sides allow it, plaintext otherwise).
    public init(index: SKEYIndex, allowed: MSECryptoMethods, randomness: MSEHandshakeRandomness = .secure()) {
        keyPair = randomness.keyPair
        state = .awaitingPublicKey(AwaitingPublicKey(index: index, allowed: allowed, randomness: randomness))
    }

    /// Feeds bytes received from the peer (from the very first byte of the connection); returns what to
    /// do. After ``MSEAction/complete(_:)`` or ``MSEAction/fail(_:)`` the machine ignores further input.
    public mutating func receive(_ bytes: ByteBuffer) -> [MSEAction] {
        if case .finished = state { return [] }
        var bytes = bytes
        received.writeBuffer(&bytes)
        var actions: [MSEAction] = []
        while true {
            switch step() {
            case .wait:
                received.discardReadBytes()
                return actions
            case .progress(let action):
                if let action { actions.append(action) }
            case .stop(let more):
                actions += more
                state = .finished
                received = ByteBuffer()
                return actions
            }
        }
    }

    private enum Step {
        case wait
        case progress(MSEAction?)
        case stop([MSEAction])
    }

    private static func fail(_ code: MSEError.Code, _ reason: String) -> Step {
        .stop([.fail(MSEError(code, reason))])
    }

    private mutating func step() -> Step {
        switch state {
        case .finished:
            return .wait
        case .awaitingPublicKey(let current):
            guard let peerKey = received.readBytes(length: MSEKeyPair.publicKeyLength) else { return .wait }
            guard let secret = keyPair.sharedSecret(with: peerKey) else {
                return Self.fail(.invalidPublicKey, "Ya outside [2, P-2]")
            }
            var out = ByteBuffer()
            out.writeBytes(keyPair.publicKey)
            out.writeBytes(current.randomness.clearPad)
            state = .awaitingSynchronisation(AwaitingSynchronisation(current, secret: secret))
            return .progress(.send(out))
        case .awaitingSynchronisation(var current):
            let window = MSELimits.maxPadLength
            if let offset = received.firstOffset(of: current.req1, from: current.searchedUpTo, through: window) {
                received.moveReaderIndex(forwardBy: offset + current.req1.count)
                state = .awaitingSKEY(AwaitingSKEY(current))
                return .progress(nil)
            }
            if received.readableBytes >= window + current.req1.count {
                return Self.fail(.syncNotFound, "no HASH('req1', S) within 512 + 20 bytes after Ya")
            }
            current.searchedUpTo = max(0, received.readableBytes - current.req1.count + 1)
            state = .awaitingSynchronisation(current)
            return .wait
        case .awaitingSKEY(let current):
            guard let obfuscated = received.readBytes(length: 20) else { return .wait }
            let req2 = MSEKeys.req2(fromObfuscated: obfuscated, secret: current.secret)
            guard let skey = current.index.skey(forReq2: req2) else {
                return Self.fail(.unknownInfoHash, "no torrent for HASH('req2', SKEY) xor HASH('req3', S)")
            }
            state = .awaitingProvide(AwaitingProvide(current, skey: skey))
            return .progress(nil)
        case .awaitingProvide(let current):
            guard var header = received.readSlice(length: 14) else { return .wait }
            var incoming = current.incoming
            incoming.apply(to: &header)
            guard header.readBytes(length: 8) == MSELimits.verificationConstant else {
                return Self.fail(.invalidVerificationConstant, "VC is not eight zero bytes")
            }
            let provide = MSECryptoMethods(rawValue: header.readInteger(as: UInt32.self)!)
            let padLength = Int(header.readInteger(as: UInt16.self)!)
            let common = provide.intersection(current.allowed)
            let method: MSECryptoMethod
            if common.contains(.rc4) {
                method = .rc4
            } else if common.contains(.plaintext) {
                method = .plaintext
            } else {
                return Self.fail(.noCommonMethod, "crypto_provide \(provide), allowed \(current.allowed)")
            }
            guard padLength <= MSELimits.maxPadLength else {
                return Self.fail(.padTooLong, "PadC of \(padLength) bytes")
            }
            state = .awaitingPadC(AwaitingPadC(current, incoming: incoming, method: method, padLength: padLength))
            return .progress(nil)
        case .awaitingPadC(let current):
            guard var pad = received.readSlice(length: current.padLength + 2) else { return .wait }
            var incoming = current.incoming
            incoming.apply(to: &pad)
            pad.moveReaderIndex(forwardBy: current.padLength)
            let length = Int(pad.readInteger(as: UInt16.self)!)
            guard length <= MSELimits.maxInitialPayloadLength else {
                return Self.fail(.initialPayloadTooLong, "IA of \(length) bytes")
            }
            state = .awaitingInitialPayload(AwaitingInitialPayload(current, incoming: incoming, length: length))
            return .progress(nil)
        case .awaitingInitialPayload(var current):
            guard var payload = received.readSlice(length: current.length) else { return .wait }
            current.incoming.apply(to: &payload)
            var rest = received
            received = ByteBuffer()
            if current.method == .rc4 { current.incoming.apply(to: &rest) }
            payload.writeBuffer(&rest)
            var out = ByteBuffer()
            out.writeBytes(MSELimits.verificationConstant)
            out.writeInteger(current.method.bit.rawValue)
            out.writeInteger(UInt16(current.encryptedPad.count))
            out.writeBytes(current.encryptedPad)
            current.outgoing.apply(to: &out)
            let result = MSEHandshakeResult(
                method: current.method, skey: current.skey,
                outgoing: current.method == .rc4 ? current.outgoing : nil,
                incoming: current.method == .rc4 ? current.incoming : nil, payload: payload)
            return .stop([.send(out), .complete(result)])
        }
    }
}
