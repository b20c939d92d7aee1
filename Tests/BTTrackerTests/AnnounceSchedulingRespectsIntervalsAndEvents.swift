import BTTracker
import NIOCore
import Testing

private let t0 = NIODeadline.uptimeNanoseconds(9_000_000_000_000)
private let url = "http://t/announce"

private func single(_ configuration: AnnounceSchedule.Configuration = .init()) -> AnnounceSchedule {
    var random = TrackerRandom(seed: 1)
    return AnnounceSchedule(tiers: [[url]], isPrivate: false, configuration: configuration, random: &random, now: t0)
}

@Test func startedFirstThenRegularAnnouncesAtTheInterval() {
    var s = single()
    #expect(s.due(now: t0).map(\.event) == [.started])
    s.succeeded(url, response: AnnounceResponse(interval: 600, trackerID: Array("id".utf8)), now: t0)
    #expect(s.nextDeadline == t0 + .seconds(600))
    #expect(s.due(now: t0 + .seconds(599)).isEmpty)
    let next = s.due(now: t0 + .seconds(600))
    #expect(next == [AnnounceSchedule.Announce(url: url, event: .none, trackerID: Array("id".utf8))])
}

@Test func minIntervalAndTheFloorAreHonoured() {
    var s = single()
    _ = s.due(now: t0)
    s.succeeded(url, response: AnnounceResponse(interval: 5, minInterval: 120), now: t0)
    #expect(s.nextDeadline == t0 + .seconds(120))
    s.reannounce(now: t0 + .seconds(10))
    #expect(s.nextDeadline == t0 + .seconds(120))  // forced announce still waits for min interval
    var floor = single()
    _ = floor.due(now: t0)
    floor.succeeded(url, response: AnnounceResponse(interval: 1), now: t0)
    #expect(floor.nextDeadline == t0 + .seconds(60))
}

@Test func failuresBackOffExponentiallyAndBounded() {
    var s = single(.init(retryBase: .seconds(10), retryMax: .seconds(100)))
    var now = t0
    var delays: [Int64] = []
    for _ in 0..<6 {
        let due = s.due(now: now)
        #expect(due.count == 1 && due[0].event == .started)
        s.failed(url, error: TrackerError(.timeout, "slow"), now: now)
        let next = s.nextDeadline!
        delays.append((next - now).nanoseconds / 1_000_000_000)
        now = next
    }
    #expect(delays == [10, 20, 40, 80, 100, 100])
    #expect(s.tiers[0][0].failures == 6)
    s.succeeded(url, response: AnnounceResponse(interval: 900), now: now)
    #expect(s.tiers[0][0].failures == 0 && s.tiers[0][0].lastError == nil)
}

@Test func completedWhileStartedIsInFlightIsSentAsSoonAsStartedReturns() {
    var s = single()
    #expect(s.due(now: t0).map(\.event) == [.started])
    s.completed(now: t0 + .seconds(1))
    #expect(s.due(now: t0 + .seconds(1)).isEmpty)  // one announce per tier at a time
    s.succeeded(url, response: AnnounceResponse(interval: 1800), now: t0 + .seconds(2))
    #expect(s.nextDeadline == t0 + .seconds(2))
    #expect(s.due(now: t0 + .seconds(2)).map(\.event) == [.completed])
    s.succeeded(url, response: AnnounceResponse(interval: 1800), now: t0 + .seconds(3))
    #expect(s.nextDeadline == t0 + .seconds(1803))
}

@Test func completedIsSentOnceAndRightAway() {
    var s = single()
    _ = s.due(now: t0)
    s.succeeded(url, response: AnnounceResponse(interval: 1800), now: t0)
    s.completed(now: t0 + .seconds(5))
    #expect(s.due(now: t0 + .seconds(5)).map(\.event) == [.completed])
    s.failed(url, error: TrackerError(.timeout, "x"), now: t0 + .seconds(5))
    let retry = s.nextDeadline!
    #expect(s.due(now: retry).map(\.event) == [.completed])  // still owed after a failure
    s.succeeded(url, response: AnnounceResponse(interval: 1800), now: retry)
    s.completed(now: retry)  // a second completion does nothing
    #expect(s.due(now: retry + .seconds(1800)).map(\.event) == [AnnounceEvent.none])
}

@Test func stoppedGoesOnlyToStartedTrackersAndEndsTheSchedule() {
    var random = TrackerRandom(seed: 3)
    var s = AnnounceSchedule(
        tiers: [["http://a/announce"], ["http://b/announce"]], isPrivate: false, random: &random, now: t0)
    _ = s.due(now: t0)
    s.succeeded("http://a/announce", response: AnnounceResponse(interval: 1800, trackerID: [7]), now: t0)
    s.failed("http://b/announce", error: TrackerError(.timeout, "x"), now: t0)
    let stops = s.stop(now: t0 + .seconds(1))
    #expect(stops == [AnnounceSchedule.Announce(url: "http://a/announce", event: .stopped, trackerID: [7])])
    #expect(s.stop(now: t0 + .seconds(2)).isEmpty)
    #expect(s.due(now: t0 + .seconds(100_000)).isEmpty)
    #expect(s.nextDeadline == nil)
}
