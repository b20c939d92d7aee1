import NIOCore
import Testing

@testable import BTWire

/// BEP 9 serving: `data` with `total_size` for each piece, `reject` without metadata or out of range, and a
/// per-peer rate limit that counts every request.
@Suite struct MetadataServeAnswersRejectsAndRateLimits {
    static let info: [UInt8] = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    let now = NIODeadline.uptimeNanoseconds(5_000_000_000)

    @Test func piecesAreServedWithTheTotalSizeAndTheLastIsShort() {
        var server = MetadataServe<String>(infoDictionary: Self.info)
        #expect(server.metadataSize == 40_000 && server.pieceCount == 3)
        #expect(
            server.answer(.request(piece: 0), from: "p", now: now)
                == .data(piece: 0, totalSize: 40_000, data: Array(Self.info[0..<16_384])))
        #expect(
            server.answer(.request(piece: 2), from: "p", now: now)
                == .data(piece: 2, totalSize: 40_000, data: Array(Self.info[32_768...])))
        #expect(server.answer(.request(piece: 3), from: "p", now: now) == .reject(piece: 3))
        #expect(server.answer(.reject(piece: 0), from: "p", now: now) == nil)
    }

    @Test func withoutMetadataEveryRequestIsRejectedUntilItIsSet() {
        var server = MetadataServe<String>(infoDictionary: nil)
        #expect(server.metadataSize == nil)
        #expect(server.answer(.request(piece: 0), from: "p", now: now) == .reject(piece: 0))
        server.setInfoDictionary(Self.info)
        #expect(server.answer(.request(piece: 0), from: "p", now: now) != .reject(piece: 0))
    }

    @Test func aPeerOverItsRateIsRejectedAndOthersAreNot() {
        var server = MetadataServe<String>(
            infoDictionary: Self.info, configuration: .init(maxRequestsPerInterval: 4, interval: .seconds(10)))
        // Rejected requests count too: two out-of-range ones use up half the allowance.
        #expect(server.answer(.request(piece: 9), from: "greedy", now: now) == .reject(piece: 9))
        #expect(server.answer(.request(piece: 9), from: "greedy", now: now) == .reject(piece: 9))
        #expect(server.answer(.request(piece: 0), from: "greedy", now: now) != .reject(piece: 0))
        #expect(server.answer(.request(piece: 1), from: "greedy", now: now) != .reject(piece: 1))
        #expect(server.answer(.request(piece: 2), from: "greedy", now: now) == .reject(piece: 2))
        #expect(server.answer(.request(piece: 2), from: "polite", now: now) != .reject(piece: 2))
        // A new window starts once the interval has passed.
        #expect(server.answer(.request(piece: 2), from: "greedy", now: now + .seconds(10)) != .reject(piece: 2))
    }

    @Test func trackedPeersAreBounded() {
        var server = MetadataServe<Int>(
            infoDictionary: Self.info, configuration: .init(maxRequestsPerInterval: 1, maxTrackedPeers: 8))
        for peer in 0..<100 {
            _ = server.answer(.request(piece: 0), from: peer, now: now + .milliseconds(Int64(peer)))
        }
        // Peer 0's window, the oldest, was forgotten to make room, so it is served again; peer 99's is live.
        let later = now + .milliseconds(100)
        #expect(server.answer(.request(piece: 0), from: 0, now: later) != .reject(piece: 0))
        #expect(server.answer(.request(piece: 0), from: 99, now: later) == .reject(piece: 0))
    }
}
