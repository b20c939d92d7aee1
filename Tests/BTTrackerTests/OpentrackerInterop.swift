import BTTracker
import Foundation
import Testing

/// Against a real tracker: Debian's opentracker on loopback, HTTP and UDP on one port, a fresh process per test.
@Suite(.serialized) struct OpentrackerInterop {
    private func start(_ infoHash: [UInt8]) async throws -> Opentracker? {
        let hex = infoHash.map { String(format: "%02x", $0) }.joined()
        guard let tracker = try Opentracker.start(whitelisting: [hex]) else {
            if Opentracker.required { Issue.record("opentracker is not installed and NBT_REQUIRE_INTEROP=1") }
            return nil
        }
        // opentracker loads its whitelist in the background after it starts listening: wait (bounded) until
        // it accepts the hash, probing with a `stopped` announce of a peer that was never there.
        let probe = announce(infoHash, peer: 0xee, port: 1, left: 0, event: .stopped)
        for _ in 0..<50 {
            do {
                _ = try await TrackerClient.withClient {
                    try await $0.announce(probe, to: "http://127.0.0.1:\(tracker.port)/announce")
                }
                return tracker
            } catch let error as TrackerError where error.reason.contains("not authorized") {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        tracker.stop()
        throw TrackerTestError("opentracker never accepted the whitelisted hash")
    }

    private func announce(
        _ infoHash: [UInt8], peer: UInt8, port: Int, left: Int64, event: AnnounceEvent = .started
    ) -> AnnounceRequest {
        AnnounceRequest(
            infoHash: infoHash, peerID: Array("-NB0010-peer".utf8) + Array(repeating: peer, count: 8), port: port,
            left: left, event: event, numWant: 50, key: UInt32(peer))
    }

    @Test(arguments: ["http", "udp", "mixed"])
    func clientsFindEachOtherAndScrapeCountsMatch(transport: String) async throws {
        var random = SystemRandomNumberGenerator()
        let infoHash = (0..<20).map { _ in UInt8.random(in: 0...255, using: &random) }
        guard let tracker = try await start(infoHash) else { return }
        defer { tracker.stop() }
        let http = "http://127.0.0.1:\(tracker.port)/announce"
        let udp = "udp://127.0.0.1:\(tracker.port)/announce"
        func url(_ client: Int) -> String {
            switch transport {
            case "http": http
            case "udp": udp
            default: client % 2 == 0 ? http : udp
            }
        }
        let ports = [7001, 7002, 7003]
        try await TrackerClient.withClient { client in
            // Client 0 seeds, 1 and 2 leech.
            for (index, port) in ports.enumerated() {
                _ = try await client.announce(
                    announce(infoHash, peer: UInt8(index + 1), port: port, left: index == 0 ? 0 : 1000), to: url(index))
            }
            // A regular announce from each now returns the other two.
            for (index, port) in ports.enumerated() {
                let response = try await client.announce(
                    announce(infoHash, peer: UInt8(index + 1), port: port, left: index == 0 ? 0 : 1000, event: .none),
                    to: url(index))
                let seen = Set(response.peers.filter { $0.host == "127.0.0.1" }.map(\.port))
                #expect(seen.isSuperset(of: Set(ports).subtracting([port])), "client \(index) saw \(seen)")
                #expect(response.complete == 1 && response.incomplete == 2)
                #expect(response.interval > 60)
            }
            for scrapeURL in [http, udp] {
                let results = try await client.scrape([infoHash], at: scrapeURL)
                #expect(results.count == 1)
                #expect(
                    results.first == ScrapeResult(infoHash: infoHash, complete: 1, incomplete: 2, downloaded: 0),
                    "\(scrapeURL)")
            }
            // A leecher completes and another stops: counts follow.
            _ = try await client.announce(
                announce(infoHash, peer: 2, port: 7002, left: 0, event: .completed), to: url(1))
            _ = try await client.announce(
                announce(infoHash, peer: 3, port: 7003, left: 1000, event: .stopped), to: url(2))
            for scrapeURL in [http, udp] {
                let results = try await client.scrape([infoHash], at: scrapeURL)
                #expect(
                    results.first == ScrapeResult(infoHash: infoHash, complete: 2, incomplete: 0, downloaded: 1),
                    "\(scrapeURL)")
            }
        }
    }

    @Test func unlistedTorrentGetsTheTrackersFailureReason() async throws {
        let listed = Array(repeating: UInt8(7), count: 20)
        guard let tracker = try await start(listed) else { return }
        defer { tracker.stop() }
        let other = announce(Array(repeating: UInt8(8), count: 20), peer: 1, port: 7001, left: 1)
        await #expect {
            try await TrackerClient.withClient {
                try await $0.announce(other, to: "http://127.0.0.1:\(tracker.port)/announce")
            }
        } throws: { error in
            let error = error as? TrackerError
            return error?.code == .trackerFailure && error?.reason.contains("not authorized") == true
        }
        // Over UDP opentracker refuses with a bare 8-byte announce header (no error action, no reason).
        await #expect {
            try await TrackerClient.withClient {
                try await $0.announce(other, to: "udp://127.0.0.1:\(tracker.port)/announce")
            }
        } throws: { error in
            (error as? TrackerError)?.code == .malformedPacket
        }
    }
}
