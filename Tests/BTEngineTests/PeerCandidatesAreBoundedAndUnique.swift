import Testing

@testable import BTEngine

/// The list of addresses waiting to be dialled: a tracker answer of a million peers costs at most the cap,
/// duplicates are dropped, and the user's own addresses always get in.
@Suite struct PeerCandidatesAreBoundedAndUnique {
    @Test func aHugeTrackerAnswerIsCutAtTheCapAndDuplicatesAreDropped() {
        var candidates = PeerCandidates()
        var added = 0
        for index in 0..<1_000_000 {
            let host = "10.\((index >> 16) & 255).\((index >> 8) & 255).\(index & 255)"
            if candidates.append(.init(host: host, port: 6881, source: .tracker)) { added += 1 }
        }
        #expect(added == PeerCandidates.capacity)
        #expect(candidates.count == PeerCandidates.capacity)
        let duplicate = candidates.append(.init(host: "10.0.0.0", port: 6881, source: .tracker))
        let user = candidates.append(.init(host: "127.0.0.1", port: 7000, source: .user))
        let userAgain = candidates.append(.init(host: "127.0.0.1", port: 7000, source: .user))
        #expect(!duplicate && user && !userAgain)
        #expect(candidates.count == PeerCandidates.capacity + 1)
    }

    @Test func addressesComeOutOldestFirstAndCanBeAddedAgainOnceTaken() {
        var candidates = PeerCandidates()
        candidates.append(.init(host: "127.0.0.1", port: 1, source: .tracker))
        candidates.append(.init(host: "127.0.0.1", port: 2, source: .user))
        let first = candidates.removeFirst()
        let readded = candidates.append(.init(host: "127.0.0.1", port: 1, source: .tracker))
        let second = candidates.removeFirst()
        let third = candidates.removeFirst()
        #expect(first.port == 1 && readded && second.port == 2 && third.port == 1)
        #expect(candidates.isEmpty)
    }
}
