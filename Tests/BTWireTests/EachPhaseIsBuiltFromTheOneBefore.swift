import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// The connection's phases are states of their own, each made from the one before: queued → connecting →
/// handshaking → active → closed, an incoming connection starting at handshaking. What a phase does not
/// have (a decoder, queues, the peer's handshake) it cannot use.

private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

private func configuration(have: Bool = false) -> PeerConfiguration {
    let content = PeerPair.content(size: 4 * 16384, seed: 41)
    return PeerPair.configuration(content: content, pieceLength: 16384, have: have, fast: true, peerIDByte: 1)
}

private func remote(_ config: PeerConfiguration) -> Handshake {
    Handshake(
        reserved: .local(), infoHash: config.infoHash,
        peerID: PeerID(bytes: Array("-NB0100-".utf8) + [UInt8](repeating: 7, count: 12))!)
}

private func handshakesSent(_ actions: [PeerAction]) -> Int {
    actions.filter { if case .sendHandshake = $0 { true } else { false } }.count
}

@Test func anOutgoingConnectionGoesFromQueuedThroughConnectingAndHandshakingToActive() {
    var machine = PeerStateMachine(configuration: configuration(), incoming: false, source: .dht, now: start)
    #expect(machine.phase == .queued && machine.isQueued && machine.source == .dht && !machine.isIncoming)
    #expect(machine.startConnecting(now: start).isEmpty)
    #expect(machine.phase == .connecting && machine.isConnecting)
    #expect(machine.startConnecting(now: start).isEmpty && machine.phase == .connecting)
    let established = machine.connectionEstablished(now: start)
    #expect(handshakesSent(established) == 1 && machine.phase == .handshake && machine.isHandshaking)
    // The transport connects once: no second handshake.
    #expect(handshakesSent(machine.connectionEstablished(now: start)) == 0)
    let accepted = machine.receive(ByteBuffer(bytes: remote(machine.configuration).encoded), now: start)
    #expect(machine.phase == .active && handshakesSent(accepted) == 0)
    #expect(machine.peerID == remote(machine.configuration).peerID)
}

@Test func aQueuedConnectionWhoseTransportConnectsAtOnceSkipsConnecting() {
    var machine = PeerStateMachine(configuration: configuration(), incoming: false, source: .user, now: start)
    #expect(handshakesSent(machine.connectionEstablished(now: start)) == 1)
    #expect(machine.phase == .handshake)
}

@Test func anIncomingConnectionStartsHandshakingAndAnswersTheHandshake() {
    var machine = PeerStateMachine(configuration: configuration(), incoming: true, source: .tracker, now: start)
    #expect(machine.phase == .handshake && machine.isIncoming && machine.source == .incoming)
    #expect(machine.startConnecting(now: start).isEmpty && machine.connectionEstablished(now: start).isEmpty)
    #expect(machine.phase == .handshake)
    let actions = machine.receive(handshake: remote(machine.configuration), now: start)
    #expect(handshakesSent(actions) == 1 && machine.phase == .active)
}

@Test func theHandshakeTimeoutRunsFromTheDialThenFromTheConnection() {
    var dialling = PeerStateMachine(configuration: configuration(), incoming: false, source: .user, now: start)
    _ = dialling.startConnecting(now: start)
    #expect(dialling.tick(now: start + .seconds(29)).isEmpty)
    guard case .disconnect(.handshakeTimeout, _)? = dialling.tick(now: start + .seconds(30)).last else {
        Issue.record("expected a handshake timeout 30 s after the dial")
        return
    }

    var connected = PeerStateMachine(configuration: configuration(), incoming: false, source: .user, now: start)
    _ = connected.startConnecting(now: start)
    _ = connected.connectionEstablished(now: start + .seconds(20))
    #expect(connected.tick(now: start + .seconds(49)).isEmpty)
    guard case .disconnect(.handshakeTimeout, _)? = connected.tick(now: start + .seconds(50)).last else {
        Issue.record("expected a handshake timeout 30 s after the connection")
        return
    }
    // A queued connection has no timer at all.
    var queued = PeerStateMachine(configuration: configuration(), incoming: false, source: .user, now: start)
    #expect(queued.tick(now: start + .minutes(60)).isEmpty && queued.phase == .queued)
}

@Test func theActiveStateIsBuiltFromTheHandshakingOneWithThePeersHandshake() throws {
    let config = configuration(have: true)
    var handshaking = PeerStateMachine.Handshaking(incoming: .init(configuration: config), now: start)
    let theirs = remote(config)
    var actions: [PeerAction] = []
    let accepted = try handshaking.accept(theirs, now: start, into: &actions)
    // The peer's handshake keeps our info-hash array, not a copy per connection.
    #expect(accepted == theirs)
    let active = PeerStateMachine.Active(handshaking, remote: accepted, now: start, into: &actions)
    #expect(active.link.handshake.peerID == theirs.peerID)
    #expect(active.link.supportsFastExtension && active.link.supportsExtensions)
    #expect(active.link.pieces.count == config.pieceCount && active.link.pieces.isNoneSet)
    #expect(active.requests.count == 0 && active.serving.requests.isEmpty)
    // Answered with our handshake, then (a seed with the fast extension) `have all`, nothing more.
    #expect(handshakesSent(actions) == 1)
    #expect(actions.contains(.send(.haveAll)))
    #expect(!actions.contains { if case .send(.bitfield) = $0 { true } else { false } })

    // A handshake for another torrent is refused by the handshaking state itself.
    var refusing = PeerStateMachine.Handshaking(incoming: .init(configuration: config), now: start)
    let other = Handshake(reserved: .local(), infoHash: [UInt8](repeating: 3, count: 20), peerID: theirs.peerID)
    #expect(throws: PeerStateMachine.Closing.self) { try refusing.accept(other, now: start, into: &actions) }
}

@Test func theClosedStateRemembersWhyAndWhetherTheHandshakesWereDone() {
    var early = PeerStateMachine(configuration: configuration(), incoming: true, source: .incoming, now: start)
    _ = early.receive(ByteBuffer(bytes: Array("GET / HTTP/1.1\r\n".utf8)), now: start)
    guard case .closed(let closedEarly) = early.state else {
        Issue.record("expected closed, got \(early.phase)")
        return
    }
    #expect(closedEarly.reason == .malformedHandshake && closedEarly.link == nil)

    var late = PeerStateMachine(configuration: configuration(), incoming: true, source: .incoming, now: start)
    _ = late.receive(handshake: remote(late.configuration), now: start)
    _ = late.disconnect(.bothSeeds, now: start)
    guard case .closed(let closedLate) = late.state else {
        Issue.record("expected closed, got \(late.phase)")
        return
    }
    #expect(closedLate.reason == .bothSeeds && closedLate.link?.handshake == remote(late.configuration))
}
