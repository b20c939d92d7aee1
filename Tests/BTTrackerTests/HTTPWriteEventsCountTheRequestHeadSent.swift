import BTMetainfo
import BTTracker
import NIOCore
import Testing

/// `tracker_write` for HTTP(S) reports the size of the request head the tracker received (the fake's
/// `headsize` mode answers it in `warning message`), for numeric hosts and pinned names, plain and TLS.
@Test func httpWriteEventsCountTheRequestHeadTheTrackerReceived() async throws {
    let certificate = try await TestCertificate.make(names: ["IP:127.0.0.1", "DNS:tracker.invalid"])
    defer { certificate.remove() }
    let plain = try FakeTracker.start()
    defer { plain.process.stop() }
    let tls = try FakeTracker.start(tls: certificate)
    defer { tls.process.stop() }
    var configuration = TrackerClient.Configuration(
        addressPolicy: TrackerAddressPolicy(localTrackersAnnounceOnly: false), httpTimeout: .seconds(20),
        additionalTrustedRootCertificateFiles: [certificate.certificate])
    configuration.resolver = { (_: String) async throws(TrackerError) -> [IPAddress] in [.v4(0x7F00_0001)] }
    let request = AnnounceRequest(
        infoHash: Array(repeating: 0x11, count: 20), peerID: Array(repeating: 0x22, count: 20), port: 6881,
        left: 5, event: .started, numWant: 3, key: 9)
    let urls = [
        plain.http("/headsize/announce"), "http://tracker.invalid:\(plain.httpPort)/headsize/announce",
        tls.https("/headsize/announce"), tls.https("/headsize/announce", host: "tracker.invalid"),
    ]
    for url in urls {
        let (response, events) = try await withEvents(configuration) { client in
            try await client.announce(request, to: url)
        }
        let received = try #require(response.warning.flatMap { Int($0) }, "\(url)")
        let written = events.compactMap { if case .write(url, let bytes) = $0 { bytes } else { nil } }
        #expect(written == [received], "\(url)")
    }
}
