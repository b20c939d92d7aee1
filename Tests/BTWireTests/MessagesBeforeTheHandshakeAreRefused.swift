import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// Before both handshakes are done there is no message decoder and no peer state to change: a message in
/// place of the handshake ends the connection as a malformed handshake and changes nothing else.

private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

private func configuration() -> PeerConfiguration {
    let content = PeerPair.content(size: 4 * 16384, seed: 21)
    return PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: true, peerIDByte: 1)
}

private func message(_ message: PeerMessage) -> ByteBuffer {
    var buffer = ByteBuffer()
    message.encode(into: &buffer)
    return buffer
}

private func peerHandshake(_ config: PeerConfiguration) -> Handshake {
    Handshake(
        reserved: .local(), infoHash: config.infoHash,
        peerID: PeerID(bytes: Array("-NB0100-".utf8) + [UInt8](repeating: 9, count: 12))!)
}

@Test(arguments: [
    PeerMessage.interested, .have(piece: 1), .bitfield(ByteBuffer(bytes: [0xf0])), .haveAll, .unchoke,
    .request(BlockRequest(piece: 0, offset: 0, length: 16384)),
])
func aMessageInPlaceOfTheHandshakeEndsTheConnectionAsAMalformedHandshake(first: PeerMessage) {
    for incoming in [true, false] {
        var machine = PeerStateMachine(configuration: configuration(), incoming: incoming, source: .tracker, now: start)
        _ = machine.connectionEstablished(now: start)
        #expect(machine.phase == .handshake)
        let actions = machine.receive(message(first), now: start)
        guard case .disconnect(.malformedHandshake, _)? = actions.last else {
            Issue.record("expected a malformed-handshake disconnect, got \(actions)")
            continue
        }
        // Nothing but the disconnect: no availability, no interest, no read, nothing sent.
        #expect(actions.count == 1)
        #expect(machine.phase == .closed(.malformedHandshake))
        #expect(!machine.peerInterested && machine.peerPieces.isNoneSet && machine.peerChoking)
        #expect(machine.servingQueueLength == 0 && machine.remoteHandshake == nil)
    }
}

@Test func aDecodedMessageBeforeTheHandshakeIsIgnored() {
    var machine = PeerStateMachine(configuration: configuration(), incoming: true, source: .incoming, now: start)
    for early in [PeerMessage.haveAll, .interested, .unchoke, .request(BlockRequest(piece: 0, offset: 0, length: 16))] {
        #expect(machine.receive(message: early, now: start).isEmpty)
    }
    #expect(machine.phase == .handshake)
    #expect(machine.peerPieces.isNoneSet && !machine.peerInterested && machine.peerChoking)
    // The handshake still works afterwards and starts from a clean slate.
    let actions = machine.receive(handshake: peerHandshake(machine.configuration), now: start)
    #expect(machine.phase == .active)
    #expect(
        actions.contains(
            .sendHandshake(
                Handshake(
                    reserved: machine.configuration.localReserved, infoHash: machine.configuration.infoHash,
                    peerID: machine.configuration.localPeerID))))
    #expect(machine.peerPieces.isNoneSet && machine.servingQueueLength == 0)
}

@Test func bytesBeforeTheTransportConnectedAreIgnored() {
    var machine = PeerStateMachine(configuration: configuration(), incoming: false, source: .user, now: start)
    let handshake = ByteBuffer(bytes: peerHandshake(machine.configuration).encoded)
    #expect(machine.receive(handshake, now: start).isEmpty)
    #expect(machine.isQueued)
    _ = machine.startConnecting(now: start)
    #expect(machine.receive(handshake, now: start).isEmpty)
    #expect(machine.receive(handshake: peerHandshake(machine.configuration), now: start).isEmpty)
    #expect(machine.isConnecting && machine.remoteHandshake == nil)
}

@Test func aHandshakeSplitAnywhereIsReadOnceAndTheMessagesAfterItInTheSameReadAreHandled() {
    for split in [1, 19, 20, 67, 68, 70] {
        var machine = PeerStateMachine(configuration: configuration(), incoming: true, source: .incoming, now: start)
        var bytes = ByteBuffer(bytes: peerHandshake(machine.configuration).encoded)
        PeerMessage.interested.encode(into: &bytes)
        PeerMessage.have(piece: 2).encode(into: &bytes)
        let head = bytes.readSlice(length: split)!
        var actions = machine.receive(head, now: start)
        actions += machine.receive(bytes, now: start)
        #expect(machine.phase == .active, "split at \(split)")
        #expect(actions.filter { if case .sendHandshake = $0 { true } else { false } }.count == 1)
        #expect(actions.contains(.peerInterested(true)) && actions.contains(.peerHas(.piece(2))), "split at \(split)")
    }
}

@Test func aSecondHandshakeIsNeitherExpectedNorAnswered() {
    var machine = PeerStateMachine(configuration: configuration(), incoming: true, source: .incoming, now: start)
    let handshake = peerHandshake(machine.configuration)
    _ = machine.receive(handshake: handshake, now: start)
    #expect(machine.phase == .active)
    // Once active, a handshake is not a handshake any more: the decoded one is ignored, the established
    // transport is not re-established, and its bytes are read as a (far too long) message.
    #expect(machine.receive(handshake: handshake, now: start).isEmpty)
    #expect(machine.connectionEstablished(now: start).isEmpty)
    #expect(machine.startConnecting(now: start).isEmpty)
    let actions = machine.receive(ByteBuffer(bytes: handshake.encoded), now: start)
    guard case .disconnect(.malformedPacket, _)? = actions.last else {
        Issue.record("expected a malformed-packet disconnect, got \(actions)")
        return
    }
}
