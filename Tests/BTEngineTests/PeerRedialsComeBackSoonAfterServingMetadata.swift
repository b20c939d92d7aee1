import BTWire
import NIOCore
import Testing

@testable import BTEngine

/// A peer that drops the connection on which it fetched our metadata (Transmission and aria2 restart their
/// connections once they have it) is redialled after the initial 2 s delay, not the 60 s reconnect delay of a
/// dropped connection; the quick redial is the caller's to grant once per address.
@Test func aPeerThatDroppedAfterTakingOurMetadataIsRedialledSoon() {
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    var redials = PeerRedials()
    let quick = redials.failed(
        host: "127.0.0.2", port: 6881, source: .user, wasConnected: true, quickly: true, now: now)
    let slow = redials.failed(host: "127.0.0.3", port: 6881, source: .user, wasConnected: true, now: now)
    #expect(quick?.notBefore == now + PeerRedials.initialDelay)
    #expect(slow?.notBefore == now + PeerRedials.reconnectDelay)
    #expect(redials.due(now: now + .seconds(2)).map(\.host) == ["127.0.0.2"])
    #expect(redials.due(now: now + .seconds(60)).map(\.host) == ["127.0.0.3"])
}
