import BTTracker
import NIOCore
import Testing

private let request = AnnounceRequest(
    infoHash: Array(repeating: 0xab, count: 20), peerID: Array("-NB0010-\u{0}\u{1}abcdefghij".utf8), port: 6881,
    left: 100, event: .started, numWant: 10, key: 0x1234)

// The HTTP deadline leaves room for a loaded 2-core CI machine (2 s was seen to expire on successful
// announces while interop peers ran in parallel); the fake's "slow" mode sleeps 20 s, so it still times out.
// The fake's behaviour is chosen by its path (/ok/announce, /gzip/announce, ...): a loopback tracker asked
// paths other than /announce, which the SSRF mitigation would refuse.
private let quick = TrackerClient.Configuration(
    addressPolicy: TrackerAddressPolicy(localTrackersAnnounceOnly: false), httpTimeout: .seconds(8),
    maxResponseBytes: 256 << 10, maxRedirects: 3,
    udpRetransmission: UDPRetransmissionPolicy(baseTimeout: .milliseconds(100), maxExponent: 2, maxAttempts: 3))

private func code(_ body: () async throws -> Void) async -> TrackerError.Code? {
    do {
        try await body()
        return nil
    } catch let error as TrackerError {
        return error.code
    } catch {
        return nil
    }
}

@Suite(.serialized) struct FakeTrackerFailuresAreTypedAndBounded {
    @Test func httpAnnounceSucceedsAndTheTrackerSeesByteExactParameters() async throws {
        let fake = try FakeTracker.start()
        defer { fake.process.stop() }
        let url = fake.http("/ok/announce")
        let (response, events) = try await withEvents(quick) { try await $0.announce(request, to: url) }
        #expect(response.complete == 5 && response.incomplete == 7 && response.minInterval == 60)
        #expect(response.peers.map(\.description) == ["10.1.2.3:6881", "192.0.2.7:80", "[::1]:6882"])
        #expect(response.trackerID == Array("T-ID".utf8))
        // The fake echoes the query string it received in `warning message`.
        let query = try #require(response.warning)
        #expect(
            query.hasPrefix(
                "info_hash=" + String(repeating: "%AB", count: 20) + "&peer_id=-NB0010-%00%01abcdefghij&port=6881"))
        #expect(query.contains("&compact=1&event=started&numwant=10&key=1234"))
        #expect(events.first == .connect(tracker: url, event: .started))
        #expect(events.contains { if case .write(url, let n) = $0 { n > 100 } else { false } })
        #expect(events.contains { if case .read(url, let n) = $0 { n > 50 } else { false } })
        #expect(events.contains(.disconnect(tracker: url)))
        #expect(events.last == .success(tracker: url, TrackerSuccess(response)))
    }

    @Test func dictionaryPeersGzipAndRedirectsWork() async throws {
        let fake = try FakeTracker.start()
        defer { fake.process.stop() }
        try await TrackerClient.withClient(configuration: quick) { client in
            let dict = try await client.announce(request, to: fake.http("/dict/announce"))
            #expect(
                dict.interval == 900 && dict.peers.count == 2
                    && dict.peers[0].peerID == Array(repeating: 0x50, count: 20))
            let gzip = try await client.announce(request, to: fake.http("/gzip/announce"))
            #expect(gzip.complete == 5 && gzip.peers.count == 3)
            let hop = try await client.announce(request, to: fake.http("/hop/announce"))
            #expect(hop.complete == 5)
        }
    }

    @Test func httpFailuresAreTypedErrorsAndFailureEvents() async throws {
        let fake = try FakeTracker.start()
        defer { fake.process.stop() }
        let cases: [(String, TrackerError.Code)] = [
            ("/failure/announce", .trackerFailure), ("/failure500/announce", .trackerFailure),
            ("/status404/announce", .httpStatus), ("/malformed/announce", .malformedResponse),
            ("/notdict/announce", .malformedResponse), ("/huge/announce", .responseTooLarge),
            ("/gzipbomb/announce", .responseTooLarge), ("/loop/announce", .httpStatus),
            ("/toprivate/announce", .addressRefused), ("/slow/announce", .timeout), ("/drip/announce", .timeout),
        ]
        let clock = ContinuousClock()
        for (path, expected) in cases {
            let url = fake.http(path)
            let started = clock.now
            let (got, events) = try await withEvents(quick) { client in
                await code { _ = try await client.announce(request, to: url) }
            }
            #expect(got == expected, "\(path)")
            #expect(
                events.contains { if case .failure(url, let e) = $0 { e.code == expected } else { false } }, "\(path)")
            #expect(events.contains(.disconnect(tracker: url)), "\(path)")
            #expect(clock.now - started < .seconds(19), "\(path) took too long")
        }
        let reason = try await withEvents(quick) { client in
            do {
                _ = try await client.announce(request, to: fake.http("/failure/announce"))
            } catch let error as TrackerError {
                return error.reason
            }
            return ""
        }.0
        #expect(reason == "torrent not registered")
    }

    @Test func connectionRefusedIsAConnectionFailureForHTTPAndUDP() async throws {
        let port = try Opentracker.freePort()
        let (codes, _) = try await withEvents(quick) { client in
            [
                await code { _ = try await client.announce(request, to: "http://127.0.0.1:\(port)/announce") },
                await code { _ = try await client.announce(request, to: "udp://127.0.0.1:\(port)/announce") },
            ]
        }
        #expect(codes == [.connectionFailed, .connectionFailed])
    }

    @Test func httpScrapeUsesTheDerivedURL() async throws {
        let fake = try FakeTracker.start()
        defer { fake.process.stop() }
        let hashes = [Array(repeating: UInt8(1), count: 20), Array(repeating: UInt8(0xfe), count: 20)]
        let results = try await TrackerClient.withClient(configuration: quick) { client in
            try await client.scrape(hashes, at: fake.http("/ok/announce"))
        }
        #expect(
            Set(results) == Set(hashes.map { ScrapeResult(infoHash: $0, complete: 3, incomplete: 4, downloaded: 9) }))
        let unsupported = try await TrackerClient.withClient(configuration: quick) { client in
            await code { _ = try await client.scrape(hashes, at: fake.http("/ok/tracker")) }
        }
        #expect(unsupported == .scrapeUnsupported)
    }

    @Test func udpAnnounceAndScrapeAgainstTheFake() async throws {
        let fake = try FakeTracker.start()
        defer { fake.process.stop() }
        let url = "udp://127.0.0.1:\(fake.udpPort)/announce?passkey=xyz"
        let hashes = (0..<80).map { Array(repeating: UInt8($0), count: 20) }  // two scrape packets (74 + 6)
        let ((response, scrape), events) = try await withEvents(quick) { client in
            (try await client.announce(request, to: url), try await client.scrape(hashes, at: url))
        }
        // The fake reports the BEP 41 URL data length it received as interval - 1000.
        #expect(response.interval == 1000 + "/announce?passkey=xyz".utf8.count)
        #expect(response.incomplete == 2 && response.complete == 3 && response.peers.count == 2)
        #expect(
            scrape.count == 80 && scrape.allSatisfy { $0.complete == 6 && $0.downloaded == 8 && $0.incomplete == 1 })
        // connect, announce; then the cached connection id is reused: two scrapes, no second connect.
        let writes = events.filter { if case .write = $0 { true } else { false } }
        #expect(writes.count == 4)
        #expect(!events.contains { if case .connect = $0 { true } else { false } })
    }

    @Test func udpOverIPv6ReadsEighteenBytePeers() async throws {
        let fake = try FakeTracker.start()
        defer { fake.process.stop() }
        guard fake.udp6Port != 0 else { return }  // no IPv6 loopback on this machine
        let response = try await TrackerClient.withClient(configuration: quick) { client in
            try await client.announce(request, to: "udp://[::1]:\(fake.udp6Port)/announce")
        }
        #expect(response.peers == [TrackerPeer(host: "::1", port: 6882)])
    }

    @Test(arguments: [
        ("wrong-txid", TrackerError.Code.timeout), ("truncated", .malformedPacket), ("error", .trackerFailure),
        ("silent", .timeout),
    ])
    func udpMisbehaviourIsTypedAndBounded(mode: String, expected: TrackerError.Code) async throws {
        let fake = try FakeTracker.start(udpMode: mode)
        defer { fake.process.stop() }
        let clock = ContinuousClock()
        let started = clock.now
        let (got, events) = try await withEvents(quick) { client in
            await code { _ = try await client.announce(request, to: fake.udp) }
        }
        #expect(got == expected)
        #expect(clock.now - started < .seconds(5))
        let writes = events.filter { if case .write = $0 { true } else { false } }.count
        // Time-outs retransmit up to the bound (3 attempts); answers that end the exchange stop after one send.
        #expect(writes == (expected == .timeout ? 3 : 1))
    }
}

@Test func announcerDrivesTheScheduleAcrossTiersAndStops() async throws {
    let fake = try FakeTracker.start()
    defer { fake.process.stop() }
    let good = fake.http("/ok/announce")
    let bad = fake.http("/failure/announce")
    let udp = fake.udp
    var random = TrackerRandom(seed: 9)
    let schedule = AnnounceSchedule(
        tiers: [[bad], [good], [udp]], isPrivate: false, random: &random, now: .now())
    let (state, events) = try await withEvents(quick) { client in
        let announcer = TorrentAnnouncer(
            client: client, schedule: schedule, infoHash: Array(repeating: 5, count: 20),
            peerID: Array(repeating: 6, count: 20), port: 7000, key: 1, transfer: .init(left: 10))
        let peers = await announcer.announceDue()
        #expect(peers.count == 3 + 2)  // /ok gives 3 peers, the UDP fake 2
        let next = try #require(await announcer.nextDeadline)
        #expect(next > .now() + .seconds(50))  // the failing tier backs off 60 s; the others wait their interval
        await announcer.stop()
        #expect(await announcer.nextDeadline == nil)
        return await announcer.state
    }
    #expect(state.tiers.flatMap { $0 }.first { $0.url == bad }?.lastError?.code == .trackerFailure)
    #expect(events.contains(.connect(tracker: good, event: .started)))
    #expect(events.contains(.connect(tracker: good, event: .stopped)))
    #expect(!events.contains(.connect(tracker: bad, event: .stopped)))  // never started: no stopped
}
