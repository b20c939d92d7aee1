import Testing

@testable import BTUTP

/// The congestion controller on its own: slow start, the delay-based gain capped per round trip, the cut on
/// loss once per window, the timeout, the one-packet floor, the application-limited rule and the clock-drift
/// correction.
struct LEDBATKeepsTheQueueNearItsTarget {
    static let packet = 1000

    static func controller() -> LEDBAT {
        var ledbat = LEDBAT(packetSize: packet, maximumWindow: 1 << 20)
        ledbat.noteWindowFull(nowMilliseconds: 0)
        return ledbat
    }

    /// Feeds `delay` microseconds of queuing over a base of 5 ms (three samples fill the current filter).
    static func delay(_ ledbat: inout LEDBAT, _ delay: Int, at now: Int64) {
        ledbat.addDelaySample(5000, nowMilliseconds: 0)
        for _ in 0..<3 { ledbat.addDelaySample(UInt32(5000 + delay), nowMilliseconds: now) }
    }

    @Test func slowStartDoublesTheWindowPerRoundTripWhileTheQueueIsEmpty() {
        #expect(Self.controller().window == 2 * Self.packet)
        var ledbat = LEDBAT(packetSize: Self.packet, initialWindow: 20_000, maximumWindow: 1 << 20)
        ledbat.noteWindowFull(nowMilliseconds: 0)
        Self.delay(&ledbat, 0, at: 0)
        for _ in 0..<20 {
            ledbat.acknowledged(bytes: Self.packet, minimumRoundTripMicroseconds: nil, nowMilliseconds: 10)
        }
        #expect(ledbat.window == 40_000)
        #expect(ledbat.inSlowStart)
    }

    @Test func slowStartEndsAtNinetyPercentOfTheTarget() {
        var ledbat = Self.controller()
        Self.delay(&ledbat, 95_000, at: 0)
        ledbat.acknowledged(bytes: Self.packet, minimumRoundTripMicroseconds: nil, nowMilliseconds: 10)
        #expect(!ledbat.inSlowStart)
        #expect(ledbat.window <= 2 * Self.packet + 3000)
    }

    @Test func anEmptyQueueGrowsTheWindowByAtMostTheGainPerWindow() {
        var ledbat = Self.controller()
        ledbat.lost(sequence: 1, nextSequence: 2)  // leave slow start
        let start = ledbat.window
        Self.delay(&ledbat, 0, at: 0)
        for _ in 0..<(start / 100) {
            ledbat.acknowledged(bytes: 100, minimumRoundTripMicroseconds: nil, nowMilliseconds: 10)
        }
        #expect(ledbat.window > start)
        #expect(ledbat.window <= start + 3000)
    }

    @Test func aQueueAboveTheTargetShrinksTheWindow() {
        var ledbat = LEDBAT(packetSize: Self.packet, initialWindow: 50_000, maximumWindow: 1 << 20)
        ledbat.noteWindowFull(nowMilliseconds: 0)
        ledbat.lost(sequence: 1, nextSequence: 2)
        let start = ledbat.window
        Self.delay(&ledbat, 200_000, at: 0)
        ledbat.acknowledged(bytes: start, minimumRoundTripMicroseconds: nil, nowMilliseconds: 10)
        #expect(ledbat.window == start - 3000, "twice the target: minus the full gain for a window acknowledged")
    }

    @Test func theRoundTripCapsAGarbageDelay() {
        var ledbat = LEDBAT(packetSize: Self.packet, initialWindow: 50_000, maximumWindow: 1 << 20)
        ledbat.noteWindowFull(nowMilliseconds: 0)
        ledbat.lost(sequence: 1, nextSequence: 2)
        let start = ledbat.window
        Self.delay(&ledbat, 3_000_000_000, at: 0)
        ledbat.acknowledged(bytes: start, minimumRoundTripMicroseconds: 10_000, nowMilliseconds: 10)
        #expect(ledbat.window > start, "one way cannot take longer than the 10 ms round trip")
    }

    @Test func theWindowNeverGoesBelowOnePacket() {
        var ledbat = Self.controller()
        Self.delay(&ledbat, 1_000_000, at: 0)
        for _ in 0..<100 { ledbat.acknowledged(bytes: 5000, minimumRoundTripMicroseconds: nil, nowMilliseconds: 10) }
        #expect(ledbat.window == Self.packet)
        for sequence in 0..<10 {
            ledbat.lost(sequence: UInt16(sequence * 100), nextSequence: UInt16(sequence * 100 + 50))
        }
        #expect(ledbat.window == Self.packet)
    }

    @Test func aLossHalvesTheWindowOncePerWindowOfPackets() {
        var ledbat = LEDBAT(packetSize: Self.packet, initialWindow: 64_000, maximumWindow: 1 << 20)
        let first = ledbat.lost(sequence: 10, nextSequence: 40)
        #expect(first)
        #expect(ledbat.window == 32_000)
        let sameWindow = ledbat.lost(sequence: 20, nextSequence: 45)
        let lastOfWindow = ledbat.lost(sequence: 39, nextSequence: 46)
        #expect(!sameWindow && !lastOfWindow, "sent before the cut: the same window")
        #expect(ledbat.window == 32_000)
        let next = ledbat.lost(sequence: 40, nextSequence: 60)
        #expect(next, "sent after the cut: a new loss")
        #expect(ledbat.window == 16_000)
    }

    @Test func aTimeoutRestartsFromOnePacket() {
        var ledbat = LEDBAT(packetSize: Self.packet, initialWindow: 64_000, maximumWindow: 1 << 20)
        ledbat.lost(sequence: 1, nextSequence: 2)
        ledbat.timedOut(idle: false)
        #expect(ledbat.window == Self.packet)
        #expect(ledbat.inSlowStart)
        var idle = LEDBAT(packetSize: Self.packet, initialWindow: 60_000, maximumWindow: 1 << 20)
        idle.timedOut(idle: true)
        #expect(idle.window == 40_000, "idle: decays by a third only")
    }

    @Test func anApplicationLimitedSenderDoesNotGrowItsWindow() {
        var ledbat = Self.controller()
        let start = ledbat.window
        Self.delay(&ledbat, 0, at: 0)
        ledbat.acknowledged(bytes: 1000, minimumRoundTripMicroseconds: nil, nowMilliseconds: 5000)
        #expect(ledbat.window == start)
    }

    @Test func aFallingReverseBaseShiftsOurBaseUp() {
        var ledbat = Self.controller()
        ledbat.addDelaySample(5000, nowMilliseconds: 0)
        for _ in 0..<3 { ledbat.addDelaySample(9000, nowMilliseconds: 0) }
        #expect(ledbat.queuingDelayMicroseconds == 4000)
        ledbat.addReverseDelaySample(50_000, nowMilliseconds: 0)
        ledbat.addReverseDelaySample(47_000, nowMilliseconds: 0)  // the peer's clock drifts slow by 3 ms
        #expect(ledbat.queuingDelayMicroseconds == 1000)
        ledbat.addReverseDelaySample(7_000, nowMilliseconds: 0)  // 40 ms at once: not drift, ignored
        #expect(ledbat.queuingDelayMicroseconds == 1000)
    }

    @Test func delaysAcrossTheTimestampWrapAreMeasuredCorrectly() {
        var ledbat = Self.controller()
        ledbat.addDelaySample(UInt32.max - 1000, nowMilliseconds: 0)
        for _ in 0..<3 { ledbat.addDelaySample(2000, nowMilliseconds: 0) }
        #expect(ledbat.queuingDelayMicroseconds == 3001)
    }
}
