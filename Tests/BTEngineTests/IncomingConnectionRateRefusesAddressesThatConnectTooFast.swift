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
            #expect(rate.admit("a", now: start + .milliseconds(attempt * 10)), "attempt \(attempt) is in the burst")
        }
        #expect(!rate.admit("a", now: start + .seconds(1)), "the 11th connection within 5 s")
        #expect(rate.isBlocked("a", now: start + .seconds(30)))
        #expect(!rate.admit("a", now: start + .seconds(30)), "still refused: the block lasts 60 s")
        #expect(rate.admit("b", now: start + .seconds(30)), "another address is not affected")
        #expect(!rate.isBlocked("a", now: start + .seconds(61)))
        #expect(rate.admit("a", now: start + .seconds(61)), "admitted again once the block ended")
    }

    @Test func aSteadyRateAtTheLimitIsNeverRefused() {
        var rate = Rate(configuration: .init(perSecond: 5, window: .seconds(10), blockTime: .seconds(300)))
        for attempt in 0..<1_000 {
            // 5 per second exactly, for 200 s.
            #expect(rate.admit("a", now: EngineInstant.zero + .milliseconds(attempt * 200)), "attempt \(attempt)")
        }
    }

    @Test func refusedAttemptsCountSoAHammeringAddressStaysRefused() {
        var rate = Rate(configuration: .init(perSecond: 1, window: .seconds(1), blockTime: .seconds(10)))
        #expect(rate.admit("a", now: .zero))
        #expect(!rate.admit("a", now: .zero))
        // Hammering, 50 attempts a second for 30 s: refused attempts count too, so each block that ends lets
        // one connection through and starts the next block at once.
        var admitted = 0
        for tick in 1..<300 {
            let now = EngineInstant.zero + .milliseconds(tick * 100)
            for _ in 0..<5 where rate.admit("a", now: now) { admitted += 1 }
        }
        #expect(admitted == 2, "one at 10 s and one at 20 s, when the blocks ended")
        #expect(rate.isBlocked("a", now: .seconds(29)))
        #expect(rate.admit("a", now: .seconds(60)), "quiet since the last block ended: admitted")
    }

    @Test func theTableOfAddressesIsBoundedAndForgetsIdleOnesFirst() {
        var rate = Rate(
            configuration: .init(perSecond: 1, window: .seconds(2), blockTime: .seconds(60), maximumTrackedAddresses: 8)
        )
        // "bad" gets blocked; then thousands of distinct addresses pass by.
        for _ in 0..<3 { _ = rate.admit("bad", now: .zero) }
        #expect(rate.isBlocked("bad", now: .seconds(1)))
        for index in 0..<5_000 {
            #expect(rate.admit("addr\(index)", now: EngineInstant.zero + .milliseconds(index)))
            #expect(rate.trackedCount <= 8)
        }
        #expect(rate.isBlocked("bad", now: .seconds(6)), "a blocked address is forgotten last")
    }
}
