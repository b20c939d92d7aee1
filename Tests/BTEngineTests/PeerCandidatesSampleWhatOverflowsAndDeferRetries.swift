import BTTracker
import Testing

@testable import BTEngine

/// Addresses past the candidate queue are not cut off: they wait in a bounded reserve that is a uniform
/// sample of what overflowed, dialled in random order once the queue is empty; addresses that come back after
/// a dial (redials) wait until nothing untried is left.
@Suite struct PeerCandidatesSampleWhatOverflowsAndDeferRetries {
    static func host(_ index: Int) -> String { "10.\((index >> 16) & 255).\((index >> 8) & 255).\(index & 255)" }

    @Test func theLastOf40000AddressesIsDialled() {
        var candidates = PeerCandidates(random: TrackerRandom(seed: 1))
        for index in 0..<40_000 { candidates.append(.init(host: Self.host(index), port: 1, source: .tracker)) }
        #expect(candidates.count == PeerCandidates.capacity)
        #expect(candidates.reserved == 40_000 - PeerCandidates.capacity)
        var taken = Set<String>()
        var order: [Int] = []
        while !candidates.isEmpty {
            let candidate = candidates.removeFirst()
            taken.insert(candidate.host)
            if order.count < PeerCandidates.capacity + 10 {
                order.append(Int(candidate.host.split(separator: ".")[3])!)
            }
        }
        #expect(taken.count == 40_000 && taken.contains(Self.host(39_999)))
        // The queue first, oldest first; then the reserve in random order.
        #expect(Array(order.prefix(256)) == Array(0..<256))
        #expect(candidates.count == 0 && candidates.reserved == 0)
    }

    @Test func aMillionAddressesCostAtMostTheBoundsAndTheReserveIsASample() {
        var candidates = PeerCandidates(random: TrackerRandom(seed: 2))
        let total = 1_000_000
        for index in 0..<total { candidates.append(.init(host: Self.host(index), port: 2, source: .tracker)) }
        #expect(candidates.count == PeerCandidates.capacity)
        #expect(candidates.reserved == PeerCandidates.reserveCapacity)
        var fromReserve: [Int] = []
        while !candidates.isEmpty {
            let host = candidates.removeFirst().host.split(separator: ".").map { Int($0)! }
            let index = host[1] << 16 | host[2] << 8 | host[3]
            if index >= PeerCandidates.capacity { fromReserve.append(index) }
        }
        #expect(fromReserve.count == PeerCandidates.reserveCapacity)
        // A uniform sample of the 997,000 that overflowed: about half from each half, and many from the end.
        let overflowed = total - PeerCandidates.capacity
        let firstHalf = fromReserve.filter { $0 < PeerCandidates.capacity + overflowed / 2 }.count
        let share = Double(firstHalf) / Double(fromReserve.count)
        #expect(share > 0.45 && share < 0.55)
        #expect(fromReserve.filter { $0 >= total - 100_000 }.count > PeerCandidates.reserveCapacity / 20)
    }

    @Test func retriesWaitUntilNothingUntriedIsLeftButTheUsersDoNot() {
        var candidates = PeerCandidates(random: TrackerRandom(seed: 3))
        candidates.append(.init(host: "127.0.0.1", port: 1, source: .tracker))
        candidates.append(.init(host: "127.0.0.1", port: 9, source: .user))
        let failed = candidates.removeFirst()
        let user = candidates.removeFirst()
        #expect(failed.port == 1 && user.port == 9)
        // Both come back (their dials failed); two new addresses arrive after them.
        let added = [
            candidates.append(failed), candidates.append(user),
            candidates.append(.init(host: "127.0.0.1", port: 2, source: .tracker)),
            candidates.append(.init(host: "127.0.0.1", port: 3, source: .pex)), candidates.append(failed),
        ]
        #expect(added == [true, true, true, true, false])
        let order = (0..<4).map { _ in candidates.removeFirst().port }
        #expect(order == [9, 2, 3, 1])
        #expect(candidates.isEmpty)
    }

    @Test func retriesAreBounded() {
        var candidates = PeerCandidates(random: TrackerRandom(seed: 4))
        for index in 0..<PeerCandidates.recentCapacity {
            candidates.append(.init(host: Self.host(index), port: 3, source: .tracker))
            _ = candidates.removeFirst()
        }
        var accepted = 0
        for index in 0..<PeerCandidates.recentCapacity {
            if candidates.append(.init(host: Self.host(index), port: 3, source: .tracker)) { accepted += 1 }
        }
        #expect(accepted == PeerCandidates.capacity && candidates.count == PeerCandidates.capacity)
        #expect(candidates.reserved == 0)
    }
}
