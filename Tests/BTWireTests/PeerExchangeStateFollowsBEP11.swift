import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// BEP 11 bookkeeping: once a minute at most, at most 50 added and 50 dropped, never us or the peer itself;
/// incoming messages rate-limited, addresses validated, learning bounded.
@Suite struct PeerExchangeStateFollowsBEP11 {
    static func endpoint(_ text: String, _ port: UInt16) -> PeerEndpoint {
        PeerEndpoint(address: IPAddress(text)!, port: port)
    }

    let us = Self.endpoint("10.0.0.1", 6881)
    let them = Self.endpoint("10.0.0.2", 6881)
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func messagesCarryChangesWithFlagsAtMostOncePerMinute() throws {
        var pex = PeerExchangeState(excluding: [us, them])
        let a = Self.endpoint("10.0.0.3", 1000)
        let b = Self.endpoint("2001:db8::7", 2000)
        let maybeFirst = pex.nextMessage(
            connected: [a: [.seed, .reachable], b: .supportsUTP, us: [], them: []], now: now)
        let first = try #require(maybeFirst)
        #expect(first.added == [a] && first.addedFlags == [0x12])
        #expect(first.added6 == [b] && first.added6Flags == [0x04])
        #expect(first.dropped.isEmpty && first.dropped6.isEmpty)
        // Too soon, then nothing changed.
        #expect(pex.nextMessage(connected: [:], now: now + .seconds(59)) == nil)
        let maybeSecond = pex.nextMessage(connected: [b: .supportsUTP], now: now + .seconds(60))
        let second = try #require(maybeSecond)
        #expect(second.added.isEmpty && second.added6.isEmpty && second.dropped == [a])
        #expect(pex.nextMessage(connected: [b: .supportsUTP], now: now + .seconds(200)) == nil)
        #expect(pex.told == [b])
        // The encoded message decodes to the same peers.
        #expect(try PEXMessage(decoding: first.encoded()) == first)
    }

    @Test func anUploadOnlySideDoesNotDialPeersFlaggedSeed() throws {
        var pex = PeerExchangeState(excluding: [us, them])
        let seed = Self.endpoint("10.0.0.3", 1000)
        let leecher = Self.endpoint("10.0.0.4", 1000)
        let partial = Self.endpoint("10.0.0.5", 1000)
        let message = PEXMessage(added: [seed, leecher, partial], addedFlags: [0x02, 0x10, 0x12])
        let learnt = pex.received(message, now: now)
        #expect(learnt.dialCandidates(weAreUploadOnly: false) == [seed, leecher, partial])
        #expect(learnt.dialCandidates(weAreUploadOnly: true) == [leecher])
    }

    @Test func atMostFiftyAddedAndFiftyDroppedPerMessage() throws {
        var pex = PeerExchangeState(excluding: [us, them])
        let many = (1...120).map { Self.endpoint("10.1.0.\($0)", 6881) }
        let connected = Dictionary(uniqueKeysWithValues: many.map { ($0, PEXFlags()) })
        var told: Set<PeerEndpoint> = []
        var time = now
        for _ in 0..<3 {
            let next = pex.nextMessage(connected: connected, now: time)
            let message = try #require(next)
            #expect(message.added.count <= 50)
            told.formUnion(message.added)
            time = time + .seconds(60)
        }
        #expect(told == Set(many))
        let last = pex.nextMessage(connected: [:], now: time)
        let drop = try #require(last)
        #expect(drop.dropped.count == 50 && drop.added.isEmpty)
    }

    @Test func receivedMessagesAreValidatedRateLimitedAndBounded() {
        var pex = PeerExchangeState(excluding: [us, them], configuration: .init(maxPeersLearnt: 3))
        let good = Self.endpoint("192.0.2.10", 6881)
        let message = PEXMessage(
            added: [
                good, Self.endpoint("192.0.2.11", 0), Self.endpoint("224.0.0.1", 6881),
                Self.endpoint("0.0.0.0", 6881), us, them, good,
            ],
            addedFlags: [0x01],
            added6: [Self.endpoint("::", 1), Self.endpoint("ff02::1", 1), Self.endpoint("::ffff:192.0.2.12", 7)],
            dropped: [Self.endpoint("192.0.2.13", 5)])
        let learnt = pex.received(message, now: now)
        #expect(learnt.added.map(\.endpoint) == [good, Self.endpoint("192.0.2.12", 7)])
        #expect(learnt.added.first?.flags == .prefersEncryption)
        #expect(learnt.dropped == [Self.endpoint("192.0.2.13", 5)])
        #expect(learnt.ignored == 8)
        // Sooner than 45 s: ignored as a whole and counted.
        let flood = pex.received(PEXMessage(added: [Self.endpoint("192.0.2.20", 1)]), now: now + .seconds(30))
        #expect(flood.cameTooSoon && flood.added.isEmpty && pex.violations == 1)
        // Learning stops at the bound (3 here).
        let more = pex.received(
            PEXMessage(added: (30...40).map { Self.endpoint("192.0.2.\($0)", 1) }), now: now + .seconds(90))
        #expect(more.added.count == 1 && pex.learntCount == 3)
    }
}
