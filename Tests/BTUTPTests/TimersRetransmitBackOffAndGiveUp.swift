import NIOCore
import Testing

@testable import BTUTP

/// The connection's timers: the retransmission timeout with exponential back-off and a bounded number of
/// tries, the keep-alive that holds NAT mappings open, the idle timeout and the linger after close.
struct TimersRetransmitBackOffAndGiveUp {
    static func connectedPair() -> UTPPair {
        var pair = UTPPair()
        pair.pendingFromA = ByteBuffer(string: "hello")
        pair.run(for: .seconds(1)) { $0.receivedByB.readableBytes == 5 }
        pair.run(for: .milliseconds(100)) { _ in false }  // the ACK arrives
        return pair
    }

    @Test func aSilentPeerGetsFourTimeoutsWithDoublingIntervalsThenAReset() {
        var pair = Self.connectedPair()
        pair.dropRule = { _, _ in true }
        let timeout = pair.a.roundTrip.timeout
        var data = ByteBuffer(repeating: 1, count: 3000)
        let start = pair.now
        pair.apply(pair.a.write(&data, now: pair.now), fromA: true)
        let sentBefore = pair.packetsFromA.count
        pair.run(for: .seconds(600)) { $0.closedA != nil }
        #expect(pair.closedA == .timedOut)
        #expect(pair.a.statistics.timeouts == 4)
        // Timeouts at T, 2T, 4T after each other; the fourth gives up: T + 2T + 4T + 8T.
        #expect(pair.now - start == timeout * 15)
        let after = pair.packetsFromA[sentBefore...]
        #expect(
            after.filter { $0.type == .data }.map(\.sequenceNumber) == [3, 3, 3],
            "one packet resent per timeout (window back to one): \(after.map(\.description))")
        #expect(after.last?.type == .reset)
    }

    @Test func anIdleConnectionSendsKeepAlivesAndStaysOpen() {
        var pair = Self.connectedPair()
        let before = pair.packetsFromA.count
        pair.run(for: .seconds(600)) { _ in false }
        #expect(pair.closedA == nil && pair.closedB == nil)
        let keepAlives = pair.packetsFromA[before...].filter { $0.type == .state }
        #expect(keepAlives.count >= 600 / 29 - 1 && keepAlives.count <= 600 / 29 + 1)
    }

    @Test func aVanishedPeerIsDroppedAfterTheIdleTimeout() {
        var pair = Self.connectedPair()
        pair.dropRule = { _, toB in !toB }
        let start = pair.now
        pair.run(for: .seconds(600)) { $0.closedA != nil }
        #expect(pair.closedA == .idle)
        #expect(pair.now - start <= .seconds(121))
    }

    @Test func aPeerThatNeverSendsItsFinIsLeftAfterTheLinger() {
        var pair = Self.connectedPair()
        pair.dropRule = { packet, toB in !toB && packet.type == .fin }
        pair.apply(pair.a.close(now: pair.now), fromA: true)
        var b = pair.b!
        let actions = b.close(now: pair.nowB)
        pair.b = b
        pair.apply(actions, fromA: false)
        let start = pair.now
        pair.run(for: .seconds(600)) { $0.closedA != nil }
        #expect(pair.closedA == .finished)
        #expect(pair.now - start >= .seconds(10) && pair.now - start < .seconds(11))
    }

    @Test func nextDeadlineIsAlwaysWhenSomethingIsDue() {
        var pair = Self.connectedPair()
        pair.pathToB.loss = 0.15
        pair.pathToA.loss = 0.15
        pair.pendingFromA = UTPPair.randomBytes(100_000, seed: 1)
        pair.closeWhenDone = true
        // The harness only wakes a side at its nextDeadline: a timer missing from it would stall the run.
        #expect(pair.run(for: .seconds(600)) { $0.bothClosed })
        #expect(pair.receivedByB.readableBytes == 100_005)
        #expect(pair.closedA == .finished && pair.closedB == .finished)
    }
}
