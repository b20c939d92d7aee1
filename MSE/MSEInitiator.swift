import NIOCore

/// The initiating side of an MSE/PE handshake (the one that dialled), as a pure state machine: bytes in,
/// ``MSEAction``s out. It owns no socket, clock or timer; the driver bounds the handshake's duration.
///
/// The exchange (the spec's steps; A is this side):
/// 1. A → B: Ya, PadA (``start()``).
/// 2. B → A: Yb, PadB.
/// 3. A → B: `HASH('req1', S)`, `HASH('req2', SKEY) xor HASH('req3', S)`,
///    ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA) — sent as soon as Yb is in.
/// 4. B → A: ENCRYPT(VC, crypto_select, len(PadD), PadD), then the payload stream.
///
/// A finds step 4 by searching for the encrypted VC within 512 + 8 bytes after Yb; the search compares
/// against the first eight keystream bytes computed on a copy, so the live RC4 stream only advances over
/// bytes actually consumed.
public struct MSEInitiator: Sendable {
    struct Idle: Sendable {
        let skey: [UInt8]
        let provide: MSECryptoMethods
        let initialPayload: [UInt8]
        let randomness: MSEHandshakeRandomness
        let keyPair: MSEKeyPair
    }

    struct AwaitingPublicKey: Sendable {
        let skey: [UInt8]
        let provide: MSECryptoMethods
        let initialPayload: [UInt8]
        let encryptedPad: [UInt8]
        let keyPair: MSEKeyPair
        init(_ previous: Idle) {
            skey = previous.skey
            provide = previous.provide
            initialPayload = previous.initialPayload
            encryptedPad = previous.randomness.encryptedPad
            keyPair = previous.keyPair
        }
    }

    struct AwaitingVerification: Sendable {
        let skey: [UInt8]
        let provide: MSECryptoMethods
        var outgoing: MSEStreamCipher
        var incoming: MSEStreamCipher
        /// ENCRYPT(VC): the first eight bytes of the incoming keystream, from a copy of the cipher.
        let encryptedVC: [UInt8]
        /// Offsets below this were searched already.
        var searchedUpTo = 0
        init(_ previous: AwaitingPublicKey, secret: [UInt8], outgoing: MSEStreamCipher) {
            skey = previous.skey
            provide = previous.provide
            self.outgoing = outgoing
            incoming = MSEKeys.responderToInitiator(secret: secret, skey: previous.skey)
            var probe = incoming
            encryptedVC = probe.keystream(MSELimits.verificationConstant.count)
        }
    }

    struct AwaitingSelection: Sendable {
        let skey: [UInt8]
        let provide: MSECryptoMethods
        var outgoing: MSEStreamCipher
        var incoming: MSEStreamCipher
        init(_ previous: AwaitingVerification) {
            skey = previous.skey
            provide = previous.provide
            outgoing = previous.outgoing
            incoming = previous.incoming
            incoming.skip(MSELimits.verificationConstant.count)
        }
    }

    struct AwaitingPadD: Sendable {
        let skey: [UInt8]
        let method: MSECryptoMethod
        var outgoing: MSEStreamCipher
        var incoming: MSEStreamCipher
        let padLength: Int
        init(_ previous: AwaitingSelection, incoming: MSEStreamCipher, method: MSECryptoMethod, padLength: Int) {
            skey = previous.skey
            outgoing = previous.outgoing
            self.incoming = incoming
            self.method = method
            self.padLength = padLength
        }
    }

    enum State: Sendable {
        case idle(Idle)
        case awaitingPublicKey(AwaitingPublicKey)
        case awaitingVerification(AwaitingVerification)
        case awaitingSelection(AwaitingSelection)
        case awaitingPadD(AwaitingPadD)
        case finished
    }

    private(set) var state: State
    /// Received bytes not consumed yet.
    private var received = ByteBuffer()

    /// A handshake for the torrent `skey` (its 20-byte v1 info-hash or truncated v2 info-hash), offering
    /// `provide`, carrying `initialPayload` (usually the 68-byte BitTorrent handshake, possibly empty).
    ///
    /// Throws ``MSEError/Code/initialPayloadTooLong`` for an IA over ``MSELimits/maxInitialPayloadLength``
    /// bytes and ``MSEError/Code/noCommonMethod`` for an empty `provide` (or one with unknown bits only).
    ///
    /// - Precondition: `skey` holds 20 bytes.
    public init(
        skey: [UInt8], provide: MSECryptoMethods, initialPayload: [UInt8],
        randomness: MSEHandshakeRandomness = .secure()
    ) throws(MSEError) {
        precondition(skey.count == 20, "an SKEY is 20 bytes")
        guard initialPayload.count <= MSELimits.maxInitialPayloadLength else {
            throw MSEError(.initialPayloadTooLong, "initial payload of \(initialPayload.count) bytes")
        }
        guard !provide.intersection([.plaintext, .rc4]).isEmpty else {
            throw MSEError(.noCommonMethod, "nothing to provide in \(provide)")
        }
        state = .idle(
            Idle(
                skey: skey, provide: provide.intersection([.plaintext, .rc4]), initialPayload: initialPayload,
                randomness: randomness, keyPair: randomness.keyPair))
    }

    /// Starts the handshake: the bytes to send first (Ya and PadA). Call once, when connected.
    ///
    /// - Precondition: not started yet (calling it twice is a programming error, not a peer's).
    public mutating func start() -> MSEAction {
        guard case .idle(let idle) = state else { preconditionFailure("MSEInitiator.start() called twice") }
        var out = ByteBuffer()
        out.writeBytes(idle.keyPair.publicKey)
        out.writeBytes(idle.randomness.clearPad)
        state = .awaitingPublicKey(AwaitingPublicKey(idle))
        return .send(out)
    }

    /// Feeds bytes received from the peer; returns what to do. After ``MSEAction/complete(_:)`` or
    /// ``MSEAction/fail(_:)`` the machine is finished and ignores further input.
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
            case .stop(let action):
                actions.append(action)
                state = .finished
                received = ByteBuffer()
                return actions
            }
        }
    }

    private enum Step {
        case wait
        case progress(MSEAction?)
        case stop(MSEAction)
    }

    private mutating func step() -> Step {
        switch state {
        case .idle, .finished:
            return .wait
        case .awaitingPublicKey(let current):
            guard let peerKey = received.readBytes(length: MSEKeyPair.publicKeyLength) else { return .wait }
            guard let secret = current.keyPair.sharedSecret(with: peerKey) else {
                return .stop(.fail(MSEError(.invalidPublicKey, "Yb outside [2, P-2]")))
            }
            var outgoing = MSEKeys.initiatorToResponder(secret: secret, skey: current.skey)
            var out = ByteBuffer()
            out.writeBytes(MSEKeys.req1(secret))
            out.writeBytes(MSEKeys.obfuscatedSKEY(current.skey, secret: secret))
            var encrypted = ByteBuffer()
            encrypted.writeBytes(MSELimits.verificationConstant)
            encrypted.writeInteger(current.provide.rawValue)
            encrypted.writeInteger(UInt16(current.encryptedPad.count))
            encrypted.writeBytes(current.encryptedPad)
            encrypted.writeInteger(UInt16(current.initialPayload.count))
            encrypted.writeBytes(current.initialPayload)
            outgoing.apply(to: &encrypted)
            out.writeBuffer(&encrypted)
            state = .awaitingVerification(AwaitingVerification(current, secret: secret, outgoing: outgoing))
            return .progress(.send(out))
        case .awaitingVerification(var current):
            let window = MSELimits.maxPadLength
            if let offset = received.firstOffset(of: current.encryptedVC, from: current.searchedUpTo, through: window) {
                received.moveReaderIndex(forwardBy: offset + current.encryptedVC.count)
                state = .awaitingSelection(AwaitingSelection(current))
                return .progress(nil)
            }
            if received.readableBytes >= window + current.encryptedVC.count {
                return .stop(.fail(MSEError(.syncNotFound, "no VC within 512 + 8 bytes after Yb")))
            }
            current.searchedUpTo = max(0, received.readableBytes - current.encryptedVC.count + 1)
            state = .awaitingVerification(current)
            return .wait
        case .awaitingSelection(let current):
            guard var header = received.readSlice(length: 6) else { return .wait }
            var incoming = current.incoming
            incoming.apply(to: &header)
            let select = MSECryptoMethods(rawValue: header.readInteger(as: UInt32.self)!)
            let padLength = Int(header.readInteger(as: UInt16.self)!)
            let method: MSECryptoMethod
            switch select {
            case .rc4 where current.provide.contains(.rc4): method = .rc4
            case .plaintext where current.provide.contains(.plaintext): method = .plaintext
            default:
                return .stop(
                    .fail(MSEError(.invalidSelection, "crypto_select \(select) for provide \(current.provide)")))
            }
            guard padLength <= MSELimits.maxPadLength else {
                return .stop(.fail(MSEError(.padTooLong, "PadD of \(padLength) bytes")))
            }
            state = .awaitingPadD(AwaitingPadD(current, incoming: incoming, method: method, padLength: padLength))
            return .progress(nil)
        case .awaitingPadD(var current):
            guard received.readableBytes >= current.padLength else { return .wait }
            var pad = received.readSlice(length: current.padLength)!
            current.incoming.apply(to: &pad)
            var payload = received
            received = ByteBuffer()
            if current.method == .rc4 { current.incoming.apply(to: &payload) }
            let result = MSEHandshakeResult(
                method: current.method, skey: current.skey,
                outgoing: current.method == .rc4 ? current.outgoing : nil,
                incoming: current.method == .rc4 ? current.incoming : nil, payload: payload)
            return .stop(.complete(result))
        }
    }
}
