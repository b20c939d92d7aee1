import NIOCore

@testable import BTMSE

/// An ``MSEInitiator`` and an ``MSEResponder`` back to back in memory: each one's `send` actions go to the
/// other in random splits (drip-fed, batched or in between). After a side completes, the harness plays
/// the driver: it applies that side's ciphers to everything it sends and receives from then on, so the
/// payload that follows the handshake is checked end to end.
struct MSEPair {
    enum Split: Sendable, CustomStringConvertible {
        /// One byte at a time.
        case dripFed
        /// Everything available at once.
        case batched
        /// Random chunk sizes of 1...max.
        case random(max: Int)

        var description: String {
            switch self {
            case .dripFed: "drip-fed"
            case .batched: "batched"
            case .random(let max): "random(1...\(max))"
            }
        }
    }

    var initiator: MSEInitiator
    var responder: MSEResponder
    var split: Split
    var rng: MSETestSupport.SeededGenerator
    var wireToResponder = ByteBuffer()
    var wireToInitiator = ByteBuffer()
    var initiatorResult: MSEHandshakeResult?
    var responderResult: MSEHandshakeResult?
    var initiatorError: MSEError?
    var responderError: MSEError?
    /// Payload each side received after (and with) its handshake, decrypted.
    var payloadAtInitiator: [UInt8] = []
    var payloadAtResponder: [UInt8] = []
    /// Bytes each side sends as soon as its handshake completes (e.g. a BitTorrent handshake reply).
    var initiatorSendsOnCompletion: [UInt8] = []
    var responderSendsOnCompletion: [UInt8] = []

    init(initiator: MSEInitiator, responder: MSEResponder, split: Split, seed: UInt64) {
        self.initiator = initiator
        self.responder = responder
        self.split = split
        self.rng = MSETestSupport.SeededGenerator(seed: seed)
    }

    /// Dials, then moves bytes both ways until both wires are empty.
    mutating func run() {
        if case .send(var bytes) = initiator.start() { wireToResponder.writeBuffer(&bytes) }
        var rounds = 0
        while (wireToResponder.readableBytes > 0 || wireToInitiator.readableBytes > 0) && rounds < 1_000_000 {
            rounds += 1
            if wireToResponder.readableBytes > 0 {
                let chunk = wireToResponder.readSlice(length: chunkSize(wireToResponder.readableBytes))!
                deliverToResponder(chunk)
            }
            if wireToInitiator.readableBytes > 0 {
                let chunk = wireToInitiator.readSlice(length: chunkSize(wireToInitiator.readableBytes))!
                deliverToInitiator(chunk)
            }
        }
    }

    private mutating func chunkSize(_ available: Int) -> Int {
        switch split {
        case .dripFed: 1
        case .batched: available
        case .random(let max): min(available, Int.random(in: 1...max, using: &rng))
        }
    }

    mutating func deliverToResponder(_ chunk: ByteBuffer) {
        if responderError != nil { return }
        if var result = responderResult {
            var chunk = chunk
            result.incoming?.apply(to: &chunk)
            responderResult = result
            payloadAtResponder += chunk.readableBytesView
            return
        }
        for action in responder.receive(chunk) {
            switch action {
            case .send(var bytes): wireToInitiator.writeBuffer(&bytes)
            case .fail(let error): responderError = error
            case .complete(var result):
                payloadAtResponder += result.payload.readableBytesView
                var reply = responderSendsOnCompletion
                result.outgoing?.apply(to: &reply)
                wireToInitiator.writeBytes(reply)
                responderResult = result
            }
        }
    }

    mutating func deliverToInitiator(_ chunk: ByteBuffer) {
        if initiatorError != nil { return }
        if var result = initiatorResult {
            var chunk = chunk
            result.incoming?.apply(to: &chunk)
            initiatorResult = result
            payloadAtInitiator += chunk.readableBytesView
            return
        }
        for action in initiator.receive(chunk) {
            switch action {
            case .send(var bytes): wireToResponder.writeBuffer(&bytes)
            case .fail(let error): initiatorError = error
            case .complete(var result):
                payloadAtInitiator += result.payload.readableBytesView
                var more = initiatorSendsOnCompletion
                result.outgoing?.apply(to: &more)
                wireToResponder.writeBytes(more)
                initiatorResult = result
            }
        }
    }
}
