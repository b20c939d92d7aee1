import BTEngine
import Testing

/// Half-open limit with a FIFO queue, global and per-torrent limits, the seed's disconnect reasons.
@Suite struct ConnectionLimiterQueuesHalfOpenConnections {
    typealias Limiter = ConnectionLimiter<String, Int>

    func limiter(total: Int = 100, perTorrent: Int = 100, halfOpen: Int = 2, queued: Int = 100) -> Limiter {
        var configuration = Limiter.Configuration()
        configuration.maximumConnections = total
        configuration.maximumPerTorrent = perTorrent
        configuration.maximumHalfOpen = halfOpen
        configuration.maximumQueued = queued
        return Limiter(configuration: configuration)
    }

    @Test func attemptsBeyondTheHalfOpenLimitWaitInOrder() {
        var limiter = limiter()
        #expect(
            (1...5).map { limiter.connectOutgoing($0, torrent: "t") } == [
                .connect, .connect, .queued, .queued, .queued,
            ])
        #expect(limiter.halfOpenCount == 2 && limiter.queuedCount == 3)
        #expect(limiter.state(of: 3) == .queued)
        #expect(limiter.connected(1) == [3])
        #expect(limiter.state(of: 1) == .connected && limiter.state(of: 3) == .connecting)
        #expect(limiter.closed(4) == [], "a queued peer given up leaves the queue")
        #expect(limiter.closed(2) == [5], "a failed attempt frees its slot")
        #expect(limiter.halfOpenCount == 2 && limiter.queuedCount == 0)
        #expect(limiter.connectionCount == 3)
    }

    @Test func theGlobalAndPerTorrentLimitsRefuseWithTooMany() {
        var limiter = limiter(total: 3, perTorrent: 2, halfOpen: 10)
        #expect(limiter.connectOutgoing(1, torrent: "a") == .connect)
        #expect(limiter.acceptIncoming(2, torrent: "a") == .accept)
        #expect(limiter.connectOutgoing(3, torrent: "a") == .refused(.tooMany))
        #expect(limiter.acceptIncoming(3, torrent: "a") == .refuse(.tooMany))
        #expect(limiter.acceptIncoming(3, torrent: "b") == .accept)
        #expect(limiter.connectOutgoing(4, torrent: "b") == .refused(.tooMany), "global limit")
        #expect(limiter.connectionCount(for: "a") == 2)
        _ = limiter.closed(2)
        #expect(limiter.connectOutgoing(4, torrent: "a") == .connect)
    }

    @Test func duplicatesAndAFullQueueAreRefused() {
        var limiter = limiter(halfOpen: 1, queued: 1)
        #expect(limiter.connectOutgoing(1, torrent: "t") == .connect)
        #expect(limiter.connectOutgoing(1, torrent: "t") == .refused(.preexisting))
        #expect(limiter.acceptIncoming(1, torrent: "t") == .refuse(.preexisting))
        #expect(limiter.connectOutgoing(2, torrent: "t") == .queued)
        #expect(limiter.connectOutgoing(3, torrent: "t") == .refused(.queueFull))
        #expect(limiter.closed(1) == [2])
        #expect(limiter.closed(9) == [], "unknown peers are ignored")
    }
}
