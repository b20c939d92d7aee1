import BTEngine
import Testing

/// The global maximum changed while connections exist (the daemon's `peer-limit-global`): lowering it closes
/// nothing but refuses new connections until the count is under it; raising it admits them again.
@Suite struct ConnectionLimiterTakesANewMaximumWhileRunning {
    @Test func aLoweredMaximumRefusesNewConnectionsAndKeepsTheOld() {
        var configuration = ConnectionLimiter<String, Int>.Configuration()
        configuration.maximumConnections = 5
        var limiter = ConnectionLimiter<String, Int>(configuration: configuration)
        for peer in 1...3 { #expect(limiter.acceptIncoming(peer, torrent: "t") == .accept) }
        limiter.setMaximumConnections(2)
        #expect(limiter.configuration.maximumConnections == 2)
        #expect(limiter.connectionCount == 3, "nothing is closed")
        #expect(limiter.acceptIncoming(4, torrent: "t") == .refuse(.tooMany))
        #expect(limiter.connectOutgoing(4, torrent: "t") == .refused(.tooMany))
        _ = limiter.closed(1)
        _ = limiter.closed(2)
        #expect(limiter.acceptIncoming(4, torrent: "t") == .accept)
        limiter.setMaximumConnections(10)
        #expect(limiter.acceptIncoming(5, torrent: "t") == .accept)
    }
}
