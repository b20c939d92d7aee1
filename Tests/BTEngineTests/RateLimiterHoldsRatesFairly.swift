import BTEngine
import Testing

/// Token buckets on a virtual clock: the rate holds, peers share fairly, torrents nest in the global limit.
@Suite struct RateLimiterHoldsRatesFairly {
    typealias Limiter = RateLimiter<String, Int>

    /// Runs `seconds` of virtual time in 50 ms steps; every peer always wants more. Returns bytes per peer.
    func saturate(
        _ limiter: inout Limiter, peers: [Int: String], seconds: Int, direction: TransferDirection = .upload
    ) -> [Int: Int] {
        var received: [Int: Int] = [:]
        func record(_ grants: [Limiter.Grant]) {
            for grant in grants {
                #expect(grant.direction == direction)
                received[grant.peer, default: 0] += grant.bytes
            }
        }
        for step in 0...(seconds * 20) {
            let now = EngineInstant(sinceOrigin: .milliseconds(step * 50))
            for (peer, torrent) in peers.sorted(by: { $0.key < $1.key })
            where limiter.pendingBytes(of: peer, direction: direction) < 256 * 1024 {
                record(limiter.request(256 * 1024, peer: peer, torrent: torrent, direction: direction, now: now))
            }
            record(limiter.advance(to: now))
        }
        return received
    }

    @Test(arguments: [50_000, 200_000, 1_000_000])
    func throughputMatchesTheGlobalLimit(rate: Int) {
        var limiter = Limiter(upload: .bytesPerSecond(rate), now: .zero)
        let received = saturate(&limiter, peers: [1: "a", 2: "a", 3: "b"], seconds: 100)
        let total = received.values.reduce(0, +)
        let expected = Double(rate * 100)
        #expect(abs(Double(total) - expected) / expected < 0.03, "\(total) bytes in 100 s at \(rate) B/s")
    }

    @Test func peersShareTheLimitEvenly() {
        var limiter = Limiter(download: .bytesPerSecond(160_000), now: .zero)
        let peers = Dictionary(uniqueKeysWithValues: (1...5).map { ($0, "t") })
        let received = saturate(&limiter, peers: peers, seconds: 60, direction: .download)
        let shares = (1...5).map { received[$0] ?? 0 }
        #expect(shares.min()! > 0)
        // The first requester may take the initial burst (two quanta) alone; after that turns alternate, so
        // the spread stays within three quanta however long the run (here 1.9 MB each).
        #expect(shares.max()! - shares.min()! <= 3 * 16 * 1024, "within three quanta: \(shares)")
    }

    @Test func aTorrentLimitNestsInsideTheGlobalLimit() {
        var limiter = Limiter(upload: .bytesPerSecond(200_000), now: .zero)
        limiter.setTorrentLimit(.bytesPerSecond(50_000), for: "slow", direction: .upload, now: .zero)
        let received = saturate(&limiter, peers: [1: "slow", 2: "slow", 3: "fast"], seconds: 100)
        let slow = Double((received[1] ?? 0) + (received[2] ?? 0))
        let fast = Double(received[3] ?? 0)
        #expect(abs(slow - 5_000_000) / 5_000_000 < 0.03, "slow torrent: \(slow)")
        #expect(abs(fast - 15_000_000) / 15_000_000 < 0.03, "the rest of the global limit: \(fast)")
        #expect(abs((received[1] ?? 0) - (received[2] ?? 0)) <= 3 * 16 * 1024, "peers of one torrent share it")
    }

    @Test func unlimitedGrantsEverythingAtOnce() {
        var limiter = Limiter(now: .zero)
        let grants = limiter.request(10_000_000, peer: 1, torrent: "t", direction: .download, now: .zero)
        #expect(grants.map(\.peer) == [1] && grants.map(\.bytes) == [10_000_000])
        #expect(grants.allSatisfy { $0.direction == .download })
        #expect(limiter.nextWakeup(.download) == nil)
    }

    @Test func burstsAreBoundedAndWaitersWakeWhenTokensSuffice() {
        var limiter = Limiter(upload: .bytesPerSecond(100_000, burst: 40_000), now: .zero)
        // After a long idle period only the burst is available at once.
        let idle = EngineInstant.seconds(1000)
        let first = limiter.request(1_000_000, peer: 1, torrent: "t", direction: .upload, now: idle)
        let immediate = first.reduce(0) { $0 + $1.bytes }
        #expect(immediate <= 40_000 && immediate >= 32 * 1024)
        let wakeup = limiter.nextWakeup(.upload)!
        #expect(wakeup > idle && wakeup <= idle + .milliseconds(200))
        #expect(limiter.advance(to: idle + .milliseconds(1)).isEmpty, "too early")
        let later = limiter.advance(to: wakeup)
        #expect(later.map(\.bytes) == [16 * 1024])
        limiter.removePeer(1)
        #expect(limiter.nextWakeup(.upload) == nil && limiter.pendingBytes(of: 1, direction: .upload) == 0)
    }

    @Test func aGreedyPeerDoesNotStarveAModestOne() {
        let quantum = 16 * 1024
        var limiter = Limiter(upload: .bytesPerSecond(4 * quantum), now: .zero)
        _ = limiter.request(4 * 1024 * 1024, peer: 1, torrent: "t", direction: .upload, now: .zero)
        let start = EngineInstant.seconds(1)
        var modest = limiter.request(quantum, peer: 2, torrent: "t", direction: .upload, now: start)
            .filter { $0.peer == 2 }
        var now = start
        while modest.isEmpty, let wakeup = limiter.nextWakeup(.upload), wakeup < start + .seconds(10) {
            now = wakeup
            modest = limiter.advance(to: now).filter { $0.peer == 2 }
        }
        #expect(modest.map(\.bytes) == [quantum])
        #expect(now - start <= .milliseconds(500), "served within two turns of the round robin, at \(now)")
    }
}
