import Testing

@testable import BTEngine

/// The per-address accept rate (``IncomingConnectionRate``): an address may open its window's worth of
/// connections, is refused past it for the block time, other addresses are unaffected, and the table of
/// remembered addresses stays bounded.
@Suite struct IncomingConnectionRateRefusesAddressesThatConnectTooFast {
    typealias Rate = IncomingConnectionRate<String>

    @Test func defaultsAreFiftyInTenSecondsThenFiveMinutesRefused() {
        let configuration = Rate.Configuration()
        #expect(configuration.perSecond == 5)
        #expect(configuration.window == .seconds(10))
        #expect(configuration.attemptsPerWindow == 50)
        #expect(configuration.blockTime == .seconds(300))
    }

    @Test func anAddressPastItsWindowIsRefusedUntilTheBlockEnds() {
        var rate = Rate(configuration: .init(perSecond: 2, window: .seconds(5), blockTime: .seconds(60)))
        let start = EngineInstant.seconds(100)
        for attempt in 0..<10 {
            let admitted = rate.admit("a", now: start + .milliseconds(attempt * 10))
            #expect(admitted, "attempt \(attempt) is in the burst")
        }
        let eleventh = rate.admit("a", now: start + .seconds(1))
        #expect(!eleventh, "the 11th connection within 5 s")
        #expect(rate.isBlocked("a", now: start + .seconds(30)))
        let during = rate.admit("a", now: start + .seconds(30))
        #expect(!during, "still refused: the block lasts 60 s")
        let other = rate.admit("b", now: start + .seconds(30))
        #expect(other, "another address is not affected")
        #expect(!rate.isBlocked("a", now: start + .seconds(61)))
        let after = rate.admit("a", now: start + .seconds(61))
        #expect(after, "admitted again once the block ended")
    }

    @Test func aSteadyRateAtTheLimitIsNeverRefused() {
        var rate = Rate(configuration: .init(perSecond: 5, window: .seconds(10), blockTime: .seconds(300)))
        var refused: [Int] = []
        for attempt in 0..<1_000 where !rate.admit("a", now: EngineInstant.zero + .milliseconds(attempt * 200)) {
            refused.append(attempt)  // 5 per second exactly, for 200 s
        }
        #expect(refused.isEmpty)
    }

    @Test func refusedAttemptsCountSoAHammeringAddressStaysRefused() {
        var rate = Rate(configuration: .init(perSecond: 1, window: .seconds(1), blockTime: .seconds(10)))
        let first = rate.admit("a", now: .zero)
        let second = rate.admit("a", now: .zero)
        #expect(first && !second)
        // Hammering, 50 attempts a second for 30 s: refused attempts count too, so each block that ends lets
        // one connection through and starts the next block at once.
        var admitted = 0
        for tick in 1..<300 {
            let now = EngineInstant.zero + .milliseconds(tick * 100)
            for _ in 0..<5 where rate.admit("a", now: now) { admitted += 1 }
        }
        #expect(admitted == 2, "one at 10 s and one at 20 s, when the blocks ended")
        #expect(rate.isBlocked("a", now: .seconds(29)))
        let quiet = rate.admit("a", now: .seconds(60))
        #expect(quiet, "quiet since the last block ended: admitted")
    }

    @Test func theTableOfAddressesIsBoundedAndForgetsIdleOnesFirst() {
        var rate = Rate(
            configuration: .init(perSecond: 1, window: .seconds(2), blockTime: .seconds(60), maximumTrackedAddresses: 8)
        )
        // "bad" gets blocked; then thousands of distinct addresses pass by.
        for _ in 0..<3 { _ = rate.admit("bad", now: .zero) }
        #expect(rate.isBlocked("bad", now: .seconds(1)))
        var refused = 0
        var largest = 0
        for index in 0..<5_000 {
            if !rate.admit("addr\(index)", now: EngineInstant.zero + .milliseconds(index)) { refused += 1 }
            largest = max(largest, rate.trackedCount)
        }
        #expect(refused == 0)
        #expect(largest == 8)
        #expect(rate.isBlocked("bad", now: .seconds(6)), "a blocked address is forgotten last")
    }
}
