import BTTracker
import NIOCore
import Testing

private let t0 = NIODeadline.uptimeNanoseconds(5_000_000_000_000)
private let ok = AnnounceResponse(interval: 1800)
private let down = TrackerError(.connectionFailed, "refused")

private func schedule(
    _ tiers: [[String]], allTiers: Bool = true, isPrivate: Bool = false, extra: [[String]] = [], seed: UInt64 = 1
) -> AnnounceSchedule {
    var random = TrackerRandom(seed: seed)
    return AnnounceSchedule(
        tiers: tiers, isPrivate: isPrivate, extraTiers: extra,
        configuration: .init(announceToAllTiers: allTiers), random: &random, now: t0)
}

@Test func tiersAreShuffledOnceAndKeepTheirMembers() {
    let tier = (0..<8).map { "http://t\($0)/announce" }
    var orders: Set<[String]> = []
    for seed in 0..<20 {
        let s = schedule([tier], seed: UInt64(seed))
        #expect(Set(s.tiers[0].map(\.url)) == Set(tier))
        orders.insert(s.tiers[0].map(\.url))
    }
    #expect(orders.count > 1)
    // The order does not change by itself later.
    var s = schedule([tier])
    let before = s.tiers[0].map(\.url)
    _ = s.due(now: t0)
    #expect(s.tiers[0].map(\.url) == before)
}

@Test func trackersInATierAreTriedInOrderAndTheAnsweringOneMovesToTheFront() {
    var s = schedule([["http://a/announce", "http://b/announce", "http://c/announce"]])
    let order = s.tiers[0].map(\.url)
    #expect(s.due(now: t0).map(\.url) == [order[0]])
    s.failed(order[0], error: down, now: t0)
    #expect(s.due(now: t0).map(\.url) == [order[1]])
    s.failed(order[1], error: down, now: t0)
    let third = s.due(now: t0)
    #expect(third.map(\.url) == [order[2]])
    #expect(third.first?.event == .started)
    s.succeeded(order[2], response: ok, now: t0)
    #expect(s.tiers[0].map(\.url) == [order[2], order[0], order[1]])
    // Next regular announce goes to the promoted tracker.
    #expect(s.due(now: t0 + .seconds(1800)).map(\.url) == [order[2]])
}

@Test func firstWorkingTrackerOfEveryTierWhenAnnouncingToAllTiers() {
    var s = schedule([["http://a1/announce", "http://a2/announce"], ["udp://b1:1/announce"], ["http://c1/announce"]])
    let due = s.due(now: t0)
    #expect(due.count == 3)
    #expect(Set(due.map(\.url)).isSuperset(of: ["udp://b1:1/announce", "http://c1/announce"]))
    #expect(s.due(now: t0).isEmpty)  // all in flight
}

@Test func strictBEP12UsesOneTierAndFallsToTheNextWhenAllOfItFail() {
    var s = schedule([["http://a1/announce", "http://a2/announce"], ["http://b1/announce"]], allTiers: false)
    let first = s.due(now: t0)
    #expect(first.count == 1 && first[0].url.hasPrefix("http://a"))
    s.failed(first[0].url, error: down, now: t0)
    let second = s.due(now: t0)
    #expect(second.count == 1 && second[0].url.hasPrefix("http://a") && second[0].url != first[0].url)
    s.failed(second[0].url, error: down, now: t0)
    #expect(s.due(now: t0).map(\.url) == ["http://b1/announce"])
}

@Test func privateTorrentsUseOnlyTheirOwnTrackers() {
    let own = [["http://private/announce?passkey=1"]]
    let extra = [["udp://public:1/announce"], ["http://private/announce?passkey=1"]]
    #expect(schedule(own, isPrivate: true, extra: extra).tiers.map { $0.map(\.url) } == own)
    #expect(
        schedule(own, isPrivate: false, extra: extra).tiers.map { $0.map(\.url) }
            == [["http://private/announce?passkey=1"], ["udp://public:1/announce"]])
}
