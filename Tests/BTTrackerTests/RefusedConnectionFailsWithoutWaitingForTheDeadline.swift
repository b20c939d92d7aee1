import BTTracker
import NIOCore
import Testing

/// Nothing listens on the tracker's port: the announce must end with `.connectionFailed` as soon as the
/// connection is refused, not after the (here 30 s) HTTP deadline, during which AsyncHTTPClient would retry.
@Test(arguments: ["http", "https"])
func refusedConnectionIsAConnectionFailureBeforeTheDeadline(scheme: String) async throws {
    let port = try Opentracker.freePort()
    let url = "\(scheme)://127.0.0.1:\(port)/announce"
    let patient = TrackerClient.Configuration(httpTimeout: .seconds(30))
    let request = AnnounceRequest(
        infoHash: Array(repeating: 0xcd, count: 20), peerID: Array(repeating: 0x41, count: 20), port: 6881,
        left: 1, event: .started, numWant: 5, key: 7)
    // The 10 s cap only keeps a regression from hanging the suite; it is a third of the deadline.
    let outcome = await bounded(seconds: 10) {
        try? await withEvents(patient) { client in
            await trackerErrorCode { _ = try await client.announce(request, to: url) }
        }
    }
    let (code, events) = try #require(outcome ?? nil, "no answer within 10 s of a 30 s deadline")
    #expect(code == .connectionFailed)
    #expect(
        events.contains { if case .failure(url, let error) = $0 { error.code == .connectionFailed } else { false } })
}
