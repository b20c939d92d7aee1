import NIOCore
import Testing

@testable import BTUTP

/// Whole streams cross a simulated link that loses, delays and reorders packets, byte for byte, in both
/// directions, across the sequence number wrap, with the clocks of the two sides far apart, and both sides
/// then close cleanly.
struct StreamsArriveIntactOverALossyReorderingLink {
    struct Link: CustomTestStringConvertible, Sendable {
        var loss: Double
        var delay: Int
        var jitter: Int
        var testDescription: String { "loss \(loss * 100) %, delay \(delay) ms, jitter \(jitter) ms" }
    }

    static let links = [
        Link(loss: 0, delay: 1, jitter: 0),
        Link(loss: 0, delay: 25, jitter: 20),
        Link(loss: 0.01, delay: 25, jitter: 5),
        Link(loss: 0.05, delay: 10, jitter: 15),
        Link(loss: 0.15, delay: 5, jitter: 5),
    ]

    static func pair(_ link: Link, seed: UInt64, initialSequenceA: UInt16 = 1, initialSequenceB: UInt16 = 0x8000)
        -> UTPPair
    {
        var pair = UTPPair(initialSequenceA: initialSequenceA, initialSequenceB: initialSequenceB, seed: seed)
        for path in [\UTPPair.pathToA, \UTPPair.pathToB] {
            pair[keyPath: path].loss = link.loss
            pair[keyPath: path].delay = .milliseconds(Int64(link.delay))
            pair[keyPath: path].jitter = .milliseconds(Int64(link.jitter))
        }
        return pair
    }

    @Test(arguments: links)
    func oneMebibyteArrivesIntactAndBothSidesFinish(link: Link) {
        var pair = Self.pair(link, seed: 7)
        let content = UTPPair.randomBytes(1 << 20, seed: 3)
        pair.pendingFromA = content
        pair.closeWhenDone = true
        let done = pair.run(for: .seconds(600)) { $0.bothClosed }
        #expect(done)
        #expect(pair.receivedByB == content)
        #expect(
            pair.closedA == .finished && pair.closedB == .finished,
            "A: \(String(describing: pair.closedA)), B: \(String(describing: pair.closedB))")
        if link.loss > 0 { #expect(pair.a.statistics.retransmissions > 0) }
        if link.jitter > 0 { #expect(pair.b!.statistics.packetsReordered > 0) }
    }

    @Test(arguments: [links[0], links[3]])
    func bothDirectionsAtOnce(link: Link) {
        var pair = Self.pair(link, seed: 11)
        let toB = UTPPair.randomBytes(300_000, seed: 4)
        let toA = UTPPair.randomBytes(500_000, seed: 5)
        pair.pendingFromA = toB
        pair.pendingFromB = toA
        pair.closeWhenDone = true
        #expect(pair.run(for: .seconds(600)) { $0.bothClosed })
        #expect(pair.receivedByB == toB)
        #expect(pair.receivedByA == toA)
        #expect(
            pair.closedA == .finished && pair.closedB == .finished,
            "A: \(String(describing: pair.closedA)), B: \(String(describing: pair.closedB))")
    }

    @Test func sequenceNumbersWrapDuringATransfer() {
        var pair = Self.pair(Self.links[3], seed: 13, initialSequenceA: 0xffd0, initialSequenceB: 0xfff0)
        let toB = UTPPair.randomBytes(200_000, seed: 6)
        let toA = UTPPair.randomBytes(200_000, seed: 8)
        pair.pendingFromA = toB
        pair.pendingFromB = toA
        pair.closeWhenDone = true
        #expect(pair.run(for: .seconds(600)) { $0.bothClosed })
        #expect(pair.receivedByB == toB && pair.receivedByA == toA)
        #expect(
            pair.packetsFromA.contains { $0.sequenceNumber == 0 }
                && pair.packetsFromB.contains { $0.sequenceNumber == 0 })
    }

    @Test func farApartClocksAndAWrappingTimestampDoNotMatter() {
        var pair = Self.pair(Self.links[2], seed: 17)
        // B's microsecond clock wraps (2^32 us, about 71.6 minutes) a few seconds into the transfer.
        let wrap: Int64 = (Int64(1) << 32) * 1000
        let phase: Int64 = Int64(pair.now.uptimeNanoseconds) % wrap
        var offset: Int64 = wrap - 2_000_000_000 - phase
        if offset < 0 { offset += wrap }
        pair.clockOffsetB = .nanoseconds(offset)
        let content = UTPPair.randomBytes(1 << 20, seed: 9)
        pair.pendingFromA = content
        pair.closeWhenDone = true
        #expect(pair.run(for: .seconds(600)) { $0.bothClosed })
        #expect(pair.receivedByB == content)
        #expect(pair.closedA == .finished)
    }

    @Test func writesAreTakenOnlyUpToTheSendBuffer() {
        var configuration = UTPConfiguration()
        configuration.sendBufferSize = 64 * 1024
        var pair = UTPPair(configuration: configuration)
        pair.run(for: .seconds(1)) { _ in false }
        var data = ByteBuffer(repeating: 1, count: 1 << 20)
        _ = pair.a.write(&data, now: pair.now)
        #expect(data.readableBytes == (1 << 20) - 64 * 1024)
        #expect(pair.a.writableBytes == 0)
    }
}
