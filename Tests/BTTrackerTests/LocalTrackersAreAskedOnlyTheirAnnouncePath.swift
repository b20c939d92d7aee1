import BTMetainfo
import BTTracker
import Testing

private let request = AnnounceRequest(
    infoHash: Array(repeating: 1, count: 20), peerID: Array(repeating: 2, count: 20), port: 1, left: 0)

private func announceError(
    _ url: String, _ configuration: TrackerClient.Configuration = .init(httpTimeout: .seconds(15))
)
    async throws -> (TrackerError?, wrote: Bool)
{
    let (error, events) = try await withEvents(configuration) { client -> TrackerError? in
        do throws(TrackerError) {
            _ = try await client.announce(request, to: url)
            return nil
        } catch {
            return error
        }
    }
    return (error, events.contains { if case .write = $0 { true } else { false } })
}

/// libtorrent's `ssrf_mitigation`: a torrent may not use a loopback tracker URL to send a request of its
/// choosing to a local web service.
@Test(arguments: [
    "/admin/delete?all=1", "/announce?action=drop", "/", "/announce/../admin", "/announce.php", "/x/announce",
])
func aLoopbackTrackerIsNotAskedAnyOtherPathOrAQueryOfItsOwn(path: String) async throws {
    let port = try Opentracker.freePort()
    let (error, wrote) = try await announceError("http://127.0.0.1:\(port)\(path)")
    #expect(error?.code == .addressRefused)
    #expect(!wrote, "refused before anything is sent")
}

@Test func aLoopbackTrackerIsAskedItsAnnouncePath() async throws {
    let port = try Opentracker.freePort()
    // Nobody listens: the attempt passes the policy and reaches the socket.
    let (error, _) = try await announceError("http://127.0.0.1:\(port)/announce")
    #expect(error?.code == .connectionFailed)
}

@Test func theMitigationCanBeTurnedOffForATrustedLocalTracker() async throws {
    let port = try Opentracker.freePort()
    let open = TrackerClient.Configuration(
        addressPolicy: .init(localTrackersAnnounceOnly: false), httpTimeout: .seconds(15))
    let (error, _) = try await announceError("http://127.0.0.1:\(port)/private/announce?passkey=1", open)
    #expect(error?.code == .connectionFailed)
    let listed = TrackerClient.Configuration(
        addressPolicy: .init(allowedHosts: ["127.0.0.1"]), httpTimeout: .seconds(15))
    let (listedError, _) = try await announceError("http://127.0.0.1:\(port)/private/announce", listed)
    #expect(listedError?.code == .connectionFailed)
}

@Test func udpTrackersAreNotSubjectToThePathRule() async throws {
    let port = try Opentracker.freePort()
    let quick = TrackerClient.Configuration(
        httpTimeout: .seconds(15), udpRetransmission: .init(baseTimeout: .milliseconds(100), maxAttempts: 1))
    let (error, _) = try await announceError("udp://127.0.0.1:\(port)/anything", quick)
    #expect(error?.code != .addressRefused)
}
