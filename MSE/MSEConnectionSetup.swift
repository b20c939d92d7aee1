import NIOCore

/// One connection's byte stream from its first byte until MSE/PE is settled, for either role, as a pure
/// state machine: the byte path of ``MSEChannelHandler`` without a channel (the handler is a thin loop
/// around it, and the fuzz target drives it directly).
///
/// - Initiator: our own first bytes (usually the 68-byte BitTorrent handshake) are held with ``hold(_:)``;
///   ``start()`` takes up to ``MSELimits/maxInitialPayloadLength`` of them as the initial payload (IA) and
///   sends Ya; the rest waits for the ciphers. Under ``EncryptionPolicy/none`` it settles at once on
///   ``MSEChannelOutcome/plaintext``.
/// - Responder: looks at the peer's first bytes. A plaintext BitTorrent handshake (19 + `BitTorrent
///   protocol`) settles on ``MSEChannelOutcome/plaintext`` (refused under ``EncryptionPolicy/required``);
///   anything else is an MSE handshake, refused under ``EncryptionPolicy/none`` and otherwise answered by
///   an ``MSEResponder`` over the ``SKEYIndex`` asked for at that moment.
///
/// It ends with exactly one ``Action/established(_:)`` or ``Action/fail(_:)``; after that it ignores input.
/// What it buffers is bounded: at most 20 sniffed bytes, the handshake machines' own windows, and
/// ``MSELimits/maxHeldOutputBytes`` of our output. It owns no clock: the driver calls ``timedOut()``.
public struct MSEConnectionSetup: Sendable {
    /// What the driver does after an input, in order.
    public enum Action: Sendable {
        /// Write these bytes to the peer as they are.
        case send(ByteBuffer)
        /// The stream is settled: apply the result's ciphers (if any) to every byte from now on.
        case established(MSEEstablishedStream)
        /// The handshake failed: close the connection (``MSEError/seedReason`` says why).
        case fail(MSEError)
    }

    /// The marker that opens a plaintext BitTorrent handshake (BEP 3): the byte 19, then the protocol name.
    static let plaintextMarker: [UInt8] = [19] + Array("BitTorrent protocol".utf8)

    struct InitiatorIdle: Sendable {
        let skey: [UInt8]
        let policy: EncryptionPolicy
        let randomness: MSEHandshakeRandomness?
        var held = ByteBuffer()
    }

    struct Initiating: Sendable {
        var machine: MSEInitiator
        /// Our output after the IA, waiting for the ciphers.
        var held: ByteBuffer
        init(_ previous: InitiatorIdle, machine: MSEInitiator, held: ByteBuffer) {
            self.machine = machine
            self.held = held
        }
    }

    struct Sniffing: Sendable {
        let policy: EncryptionPolicy
        let randomness: MSEHandshakeRandomness?
        var held = ByteBuffer()
        /// The peer's first bytes (fewer than 20, all matching ``plaintextMarker`` so far).
        var prefix = ByteBuffer()
    }

    struct Responding: Sendable {
        var machine: MSEResponder
        var held: ByteBuffer
        init(_ previous: Sniffing, machine: MSEResponder) {
            self.machine = machine
            held = previous.held
        }
    }

    enum State: Sendable {
        case initiatorIdle(InitiatorIdle)
        case initiating(Initiating)
        case sniffing(Sniffing)
        case responding(Responding)
        case finished
    }

    private(set) var state: State

    /// The outgoing side of a connection to a peer of the torrent `skey` (20 bytes: the v1 info-hash or the
    /// truncated v2 info-hash), under `policy`; `randomness` nil draws fresh keys and pads at ``start()``.
    ///
    /// - Precondition: `skey` holds 20 bytes.
    public static func initiator(
        skey: [UInt8], policy: EncryptionPolicy, randomness: MSEHandshakeRandomness? = nil
    ) -> MSEConnectionSetup {
        precondition(skey.count == 20, "an SKEY is 20 bytes")
        return MSEConnectionSetup(
            state: .initiatorIdle(InitiatorIdle(skey: skey, policy: policy, randomness: randomness)))
    }

    /// The accepting side of a connection, under `policy`; `randomness` nil draws fresh keys and pads when
    /// the peer's first bytes turn out to be an MSE handshake.
    public static func responder(policy: EncryptionPolicy, randomness: MSEHandshakeRandomness? = nil)
        -> MSEConnectionSetup
    {
        MSEConnectionSetup(state: .sniffing(Sniffing(policy: policy, randomness: randomness)))
    }

    private init(state: State) {
        self.state = state
    }

    /// Whether the stream is settled (established or failed): the driver stops calling in.
    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// The connection is up. The initiator sends Ya and PadA, taking the IA from what ``hold(_:)`` got so far
    /// (under ``EncryptionPolicy/none`` it settles on plaintext at once, releasing the held bytes); the
    /// responder waits for the peer. Call once; later calls do nothing.
    public mutating func start() -> [Action] {
        guard case .initiatorIdle(var idle) = state else { return [] }
        state = .finished
        guard let provide = idle.policy.cryptoMethods else {
            return [
                .established(
                    MSEEstablishedStream(outcome: .plaintext, received: ByteBuffer(), pendingOutput: idle.held))
            ]
        }
        let initialPayload = idle.held.readBytes(
            length: min(idle.held.readableBytes, MSELimits.maxInitialPayloadLength))!
        let machine: MSEInitiator
        do {
            machine = try MSEInitiator(
                skey: idle.skey, provide: provide, initialPayload: initialPayload,
                randomness: idle.randomness ?? .secure())
        } catch {
            return [.fail(error)]
        }
        var initiating = Initiating(idle, machine: machine, held: idle.held)
        let first = initiating.machine.start()
        state = .initiating(initiating)
        return translate([first], held: &initiating.held)
    }

    /// Our own bytes on their way to the peer before the stream is settled: held (the first ones become the
    /// initiator's IA), or refused with ``MSEError/Code/heldOutputTooLong`` past
    /// ``MSELimits/maxHeldOutputBytes``. Returns nothing else; after the stream is settled it does nothing
    /// (the driver applies the ciphers itself).
    public mutating func hold(_ bytes: ByteBuffer) -> [Action] {
        var bytes = bytes
        let overflow: Bool
        switch state {
        case .initiatorIdle(var current):
            state = .finished
            current.held.writeBuffer(&bytes)
            overflow = current.held.readableBytes > MSELimits.maxHeldOutputBytes
            state = .initiatorIdle(current)
        case .initiating(var current):
            state = .finished
            current.held.writeBuffer(&bytes)
            overflow = current.held.readableBytes > MSELimits.maxHeldOutputBytes
            state = .initiating(current)
        case .sniffing(var current):
            state = .finished
            current.held.writeBuffer(&bytes)
            overflow = current.held.readableBytes > MSELimits.maxHeldOutputBytes
            state = .sniffing(current)
        case .responding(var current):
            state = .finished
            current.held.writeBuffer(&bytes)
            overflow = current.held.readableBytes > MSELimits.maxHeldOutputBytes
            state = .responding(current)
        case .finished:
            return []
        }
        guard overflow else { return [] }
        state = .finished
        return [
            .fail(MSEError(.heldOutputTooLong, "more than \(MSELimits.maxHeldOutputBytes) bytes written before MSE"))
        ]
    }

    /// Bytes from the peer. `index` is asked at most once, when a responder's peer turns out to speak MSE,
    /// so that it sees the torrents served at that moment.
    public mutating func receive(_ bytes: ByteBuffer, index: () -> SKEYIndex) -> [Action] {
        switch state {
        case .finished:
            return []
        case .initiatorIdle:
            // Bytes before our start can only come from a driver that skipped it: start now, then read.
            return start() + receive(bytes, index: index)
        case .initiating(var current):
            state = .finished
            let actions = current.machine.receive(bytes)
            state = .initiating(current)
            return translate(actions, held: &current.held)
        case .responding(var current):
            state = .finished
            let actions = current.machine.receive(bytes)
            state = .responding(current)
            return translate(actions, held: &current.held)
        case .sniffing(var current):
            state = .finished
            var bytes = bytes
            current.prefix.writeBuffer(&bytes)
            let marker = Self.plaintextMarker
            let seen = min(current.prefix.readableBytes, marker.count)
            let matches = current.prefix.readableBytesView.prefix(seen).elementsEqual(marker.prefix(seen))
            if matches && seen < marker.count {
                state = .sniffing(current)
                return []
            }
            if matches {
                guard current.policy != .required else {
                    return [.fail(MSEError(.plaintextRefused, "plaintext BitTorrent handshake, encryption required"))]
                }
                return [
                    .established(
                        MSEEstablishedStream(outcome: .plaintext, received: current.prefix, pendingOutput: current.held)
                    )
                ]
            }
            guard let allowed = current.policy.cryptoMethods else {
                return [.fail(MSEError(.encryptionRefused, "MSE handshake, encryption disabled"))]
            }
            var responding = Responding(
                current,
                machine: MSEResponder(index: index(), allowed: allowed, randomness: current.randomness ?? .secure()))
            let actions = responding.machine.receive(current.prefix)
            state = .responding(responding)
            return translate(actions, held: &responding.held)
        }
    }

    /// The driver's timeout for the handshake expired: fails with ``MSEError/Code/handshakeTimeout`` unless
    /// the stream is settled already.
    public mutating func timedOut() -> [Action] {
        guard !isFinished else { return [] }
        state = .finished
        return [.fail(MSEError(.handshakeTimeout, "MSE handshake not complete in time"))]
    }

    /// The connection closed before the stream was settled: fails with
    /// ``MSEError/Code/closedDuringHandshake`` unless it is settled already.
    public mutating func peerClosed() -> [Action] {
        guard !isFinished else { return [] }
        state = .finished
        return [.fail(MSEError(.closedDuringHandshake, "connection closed during the MSE handshake"))]
    }

    /// The handshake machine's actions as this machine's: a completion releases the held output (encrypted
    /// when RC4 was selected) and finishes; a failure finishes.
    private mutating func translate(_ actions: [MSEAction], held: inout ByteBuffer) -> [Action] {
        var out: [Action] = []
        out.reserveCapacity(actions.count)
        for action in actions {
            switch action {
            case .send(let bytes):
                out.append(.send(bytes))
            case .fail(let error):
                state = .finished
                out.append(.fail(error))
            case .complete(var result):
                state = .finished
                var pending = held
                held = ByteBuffer()
                result.outgoing?.apply(to: &pending)
                let outcome: MSEChannelOutcome =
                    result.method == .rc4 ? .rc4(skey: result.skey) : .plaintextAfterMSE(skey: result.skey)
                out.append(
                    .established(
                        MSEEstablishedStream(
                            outcome: outcome, outgoing: result.outgoing, incoming: result.incoming,
                            received: result.payload, pendingOutput: pending)))
            }
        }
        return out
    }
}

/// A connection's stream once MSE is settled: its outcome, the ciphers for every following byte (nil when
/// the payload is plaintext), and the bytes the setup still had in hand.
public struct MSEEstablishedStream: Sendable {
    /// How the stream was settled.
    public let outcome: MSEChannelOutcome
    /// For RC4: the cipher for every byte we send after ``pendingOutput``.
    public var outgoing: MSEStreamCipher?
    /// For RC4: the cipher for every byte received after ``received``.
    public var incoming: MSEStreamCipher?
    /// Peer bytes to pass on, in order and already decrypted: the IA and what followed it (responder), what
    /// followed PadD (initiator), or the sniffed plaintext handshake bytes.
    public var received: ByteBuffer
    /// Our held output after the IA, to write now, already encrypted when RC4 carries the payload.
    public var pendingOutput: ByteBuffer

    /// A settled stream.
    public init(
        outcome: MSEChannelOutcome, outgoing: MSEStreamCipher? = nil, incoming: MSEStreamCipher? = nil,
        received: ByteBuffer, pendingOutput: ByteBuffer
    ) {
        self.outcome = outcome
        self.outgoing = outgoing
        self.incoming = incoming
        self.received = received
        self.pendingOutput = pendingOutput
    }
}
