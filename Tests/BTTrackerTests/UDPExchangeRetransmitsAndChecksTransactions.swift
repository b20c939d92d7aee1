import BTTracker
import NIOCore
import Testing

private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
private let announce = UDPTrackerQuery.announce(
    AnnounceRequest(
        infoHash: Array(repeating: 1, count: 20), peerID: Array(repeating: 2, count: 20), port: 6881, left: 5),
    urlData: Array("/announce".utf8))

/// Pulls the packet and deadline out of a `.send` action.
private func sent(_ action: UDPTrackerExchange.Action) -> (packet: UDPTrackerPacket, deadline: NIODeadline)? {
    guard case .send(let bytes, let deadline) = action, let packet = try? UDPTrackerPacket.decodeRequest(bytes) else {
        return nil
    }
    return (packet, deadline)
}

private func answer(_ action: UDPTrackerExchange.Action) -> Result<UDPTrackerAnswer, TrackerError>? {
    if case .finish(let result, _) = action { return result }
    return nil
}

@Test func connectThenAnnounceWithCheckedTransactionIDs() throws {
    var exchange = UDPTrackerExchange(query: announce, connection: nil, random: TrackerRandom(seed: 1))
    let connect = try #require(sent(exchange.start(now: t0)))
    guard case .connectRequest(let connectTransaction) = connect.packet else { Issue.record("no connect"); return }
    #expect(connect.deadline == t0 + .seconds(15))

    // A reply with someone else's transaction id is ignored.
    let wrong = UDPTrackerPacket.connectResponse(transactionID: connectTransaction &+ 1, connectionID: 77).encoded()
    #expect(exchange.receive(wrong, ipv6: false, now: t0 + .seconds(1)) == .keepWaiting)
    #expect(exchange.receive([1, 2, 3], ipv6: false, now: t0 + .seconds(1)) == .keepWaiting)

    let right = UDPTrackerPacket.connectResponse(transactionID: connectTransaction, connectionID: 77).encoded()
    let request = try #require(sent(exchange.receive(right, ipv6: false, now: t0 + .seconds(2))))
    guard case .announceRequest(77, let announceTransaction, _, let urlData) = request.packet else {
        Issue.record("no announce with the connection id")
        return
    }
    #expect(urlData == Array("/announce".utf8))
    #expect(announceTransaction != connectTransaction)

    let reply = UDPTrackerPacket.announceResponse(
        transactionID: announceTransaction, interval: 600, leechers: 4, seeders: 9,
        peers: [TrackerPeer(host: "127.0.0.2", port: 1000)]
    ).encoded()
    let finish = exchange.receive(reply, ipv6: false, now: t0 + .seconds(3))
    guard case .finish(.success(.announce(let response)), let connection) = finish else {
        Issue.record("no answer: \(finish)")
        return
    }
    #expect(
        response
            == AnnounceResponse(
                interval: 600, complete: 9, incomplete: 4, peers: [TrackerPeer(host: "127.0.0.2", port: 1000)]))
    #expect(connection == UDPTrackerConnection(connectionID: 77, obtainedAt: t0 + .seconds(2)))
}

@Test func connectionIDIsReusedForSixtySeconds() throws {
    let cached = UDPTrackerConnection(connectionID: 5, obtainedAt: t0)
    var fresh = UDPTrackerExchange(query: announce, connection: cached, random: TrackerRandom(seed: 2))
    guard case .announceRequest(5, _, _, _) = try #require(sent(fresh.start(now: t0 + .seconds(59)))).packet else {
        Issue.record("cached id not reused")
        return
    }
    var stale = UDPTrackerExchange(query: announce, connection: cached, random: TrackerRandom(seed: 2))
    guard case .connectRequest = try #require(sent(stale.start(now: t0 + .seconds(60)))).packet else {
        Issue.record("expired id reused")
        return
    }
}

@Test func retransmissionBacksOffAs15TimesTwoToTheNAndGivesUp() throws {
    var exchange = UDPTrackerExchange(query: announce, connection: nil, random: TrackerRandom(seed: 3))
    var now = t0
    var deadline = try #require(sent(exchange.start(now: now))).deadline
    var waits: [Int64] = [(deadline - now).nanoseconds / 1_000_000_000]
    var finalAction: UDPTrackerExchange.Action?
    while finalAction == nil {
        now = deadline
        let action = exchange.timedOut(now: now)
        if let next = sent(action) {
            deadline = next.deadline
            waits.append((deadline - now).nanoseconds / 1_000_000_000)
        } else {
            finalAction = action
        }
    }
    #expect(waits == [15, 30, 60, 120, 240, 480, 960, 1920, 3840])
    #expect(answer(finalAction!).flatMap { try? $0.get() } == nil)
    if case .failure(let error) = answer(finalAction!) { #expect(error.code == .timeout) }
}

@Test func boundedPolicyCapsTheExponentAndAttempts() {
    let policy = UDPRetransmissionPolicy(baseTimeout: .milliseconds(10), maxExponent: 2, maxAttempts: 5)
    #expect(
        (0..<6).map { policy.timeout(attempt: $0) } == [10, 20, 40, 40, 40, 40].map { TimeAmount.milliseconds($0) })
}

@Test func expiredConnectionIsRenewedBeforeARetry() throws {
    var exchange = UDPTrackerExchange(
        query: announce, connection: UDPTrackerConnection(connectionID: 8, obtainedAt: t0),
        random: TrackerRandom(seed: 4))
    let first = try #require(sent(exchange.start(now: t0 + .seconds(10))))
    guard case .announceRequest = first.packet else { Issue.record("expected announce"); return }
    // Attempt 0 times out at +25 s with the id still valid: the same announce goes again.
    let second = try #require(sent(exchange.timedOut(now: t0 + .seconds(25))))
    #expect(second.packet == first.packet)
    // The next time-out is handled at +85 s, after the id (received at t0) expired: connect again.
    let third = try #require(sent(exchange.timedOut(now: t0 + .seconds(85))))
    guard case .connectRequest = third.packet else { Issue.record("expected a new connect"); return }
}

@Test func errorActionAndTruncatedAnswersFinishWithTypedErrors() throws {
    var exchange = UDPTrackerExchange(query: announce, connection: nil, random: TrackerRandom(seed: 5))
    guard case .connectRequest(let t) = try #require(sent(exchange.start(now: t0))).packet else { return }
    let error = exchange.receive(
        UDPTrackerPacket.error(transactionID: t, message: "banned").encoded(), ipv6: false, now: t0)
    #expect(
        answer(error) == .failure(TrackerError(.trackerFailure, "banned"))
    )

    var truncated = UDPTrackerExchange(query: announce, connection: nil, random: TrackerRandom(seed: 6))
    guard case .connectRequest(let t2) = try #require(sent(truncated.start(now: t0))).packet else { return }
    let short = [0, 0, 0, 0] + withUnsafeBytes(of: t2.bigEndian, Array.init) + [1, 2, 3]
    guard case .finish(.failure(let failure), nil) = truncated.receive(short, ipv6: false, now: t0) else {
        Issue.record("truncated connect response accepted")
        return
    }
    #expect(failure.code == .malformedPacket)
}

@Test func scrapeAnswersMapToTheRequestedHashesInOrder() throws {
    let hashes = [Array(repeating: UInt8(1), count: 20), Array(repeating: UInt8(2), count: 20)]
    var exchange = UDPTrackerExchange(
        query: .scrape(hashes), connection: UDPTrackerConnection(connectionID: 1, obtainedAt: t0),
        random: TrackerRandom(seed: 7))
    guard case .scrapeRequest(1, let t, hashes) = try #require(sent(exchange.start(now: t0))).packet else {
        Issue.record("expected scrape")
        return
    }
    let reply = UDPTrackerPacket.scrapeResponse(
        transactionID: t,
        entries: [.init(seeders: 1, completed: 2, leechers: 3), .init(seeders: 4, completed: 5, leechers: 6)])
    let result = try #require(answer(exchange.receive(reply.encoded(), ipv6: false, now: t0))).get()
    #expect(
        result
            == .scrape([
                ScrapeResult(infoHash: hashes[0], complete: 1, incomplete: 3, downloaded: 2),
                ScrapeResult(infoHash: hashes[1], complete: 4, incomplete: 6, downloaded: 5),
            ]))
}

@Test func transactionIDsDifferAcrossExchanges() throws {
    var ids: Set<UInt32> = []
    var random = TrackerRandom(seed: 42)
    for _ in 0..<50 {
        var exchange = UDPTrackerExchange(query: announce, connection: nil, random: TrackerRandom(seed: random.next()))
        if case .connectRequest(let t) = try #require(sent(exchange.start(now: t0))).packet { ids.insert(t) }
    }
    #expect(ids.count == 50)
}

@Test func exchangeSurvivesRandomDatagramsAndOnlyAcceptsMatchingAnswers() throws {
    var random = TrackerRandom(seed: 2024)
    var finishedWithSuccess = 0
    for round in 0..<3000 {
        let cached: UDPTrackerConnection? = round % 2 == 0 ? nil : UDPTrackerConnection(connectionID: 3, obtainedAt: t0)
        let query: UDPTrackerQuery = round % 3 == 0 ? .scrape([Array(repeating: 9, count: 20)]) : announce
        var exchange = UDPTrackerExchange(query: query, connection: cached, random: TrackerRandom(seed: random.next()))
        guard case .send(let sentBytes, _) = exchange.start(now: t0) else {
            Issue.record("no first packet")
            return
        }
        var datagram = (0..<Int(random.next() % 120)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let patched = datagram.count >= 8 && random.next() % 4 != 0
        if patched {
            datagram[0..<4] = [0, 0, 0, UInt8(random.next() % 4)]  // a plausible action
            datagram.replaceSubrange(4..<8, with: sentBytes[12..<16])
        }
        let action = exchange.receive(datagram, ipv6: random.next() % 2 == 0, now: t0)
        switch action {
        case .keepWaiting:
            #expect(!patched || datagram.count < 8)
        case .send:
            // Only a well-formed connect answer moves on to the request.
            #expect(patched && datagram[3] == 0 && cached == nil)
        case .finish(let result, _):
            #expect(patched)
            if case .success = result { finishedWithSuccess += 1 }
            // Once finished, nothing more is accepted.
            #expect(exchange.receive(datagram, ipv6: false, now: t0) == .keepWaiting)
            #expect(exchange.timedOut(now: t0 + .seconds(100)) == .keepWaiting)
        }
    }
    #expect(finishedWithSuccess > 0)
}
