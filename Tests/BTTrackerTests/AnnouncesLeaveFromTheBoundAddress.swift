import BTMetainfo
import BTTracker
import Foundation
import Testing

/// Issue 11: a client bound to 127.0.4.78 was listed by the tracker as 127.0.0.1, because its announces
/// left from the default source address. Against a real opentracker, which records the source address of
/// each announce and lists the announcing peer itself.
@Suite(.serialized) struct AnnouncesLeaveFromTheBoundAddress {
    /// Starts opentracker for a random info-hash and waits (bounded) until its whitelist accepts it.
    private func start() async throws -> (Opentracker, [UInt8])? {
        var random = SystemRandomNumberGenerator()
        let infoHash = (0..<20).map { _ in UInt8.random(in: 0...255, using: &random) }
        let hex = infoHash.map { String(format: "%02x", $0) }.joined()
        guard let tracker = try Opentracker.start(whitelisting: [hex]) else {
            if Opentracker.required { Issue.record("opentracker is not installed and NBT_REQUIRE_INTEROP=1") }
            return nil
        }
        let probe = AnnounceRequest(
            infoHash: infoHash, peerID: Array(repeating: 0xee, count: 20), port: 1, left: 0, event: .stopped)
        for _ in 0..<50 {
            do {
                _ = try await TrackerClient.withClient {
                    try await $0.announce(probe, to: "http://127.0.0.1:\(tracker.port)/announce")
                }
                return (tracker, infoHash)
            } catch let error as TrackerError where error.reason.contains("not authorized") {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        tracker.stop()
        throw TrackerTestError("opentracker never accepted the whitelisted hash")
    }

    @Test(arguments: ["http", "udp"])
    func aClientBoundToAnAddressIsListedAtIt(transport: String) async throws {
        guard let (tracker, infoHash) = try await start() else { return }
        defer { tracker.stop() }
        let url = "\(transport)://127.0.0.1:\(tracker.port)/announce"
        let bound = try #require(IPAddress("127.0.4.78"))
        let request = AnnounceRequest(
            infoHash: infoHash, peerID: Array("-NB0010-bound-addr..".utf8), port: 7878, left: 10, event: .started,
            numWant: 50)
        let configuration = TrackerClient.Configuration(httpTimeout: .seconds(10), localAddress: bound)
        let response = try await TrackerClient.withClient(configuration: configuration) {
            try await $0.announce(request, to: url)
        }
        let listed = response.peers.filter { $0.port == 7878 }.map(\.host)
        #expect(listed == ["127.0.4.78"], "opentracker lists \(response.peers)")
    }

    @Test func aTrackerOfTheOtherFamilyIsAnErrorNotASilentLeakFromAnotherAddress() async throws {
        let request = AnnounceRequest(
            infoHash: Array(repeating: 3, count: 20), peerID: Array(repeating: 4, count: 20), port: 1, left: 0)
        let configuration = TrackerClient.Configuration(httpTimeout: .seconds(2), localAddress: IPAddress("127.0.4.78"))
        await #expect(throws: TrackerError.self) {
            try await TrackerClient.withClient(configuration: configuration) {
                try await $0.announce(request, to: "udp://[::1]:9/announce")
            }
        }
    }
}
