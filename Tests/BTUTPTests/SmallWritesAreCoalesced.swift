import NIOCore
import Testing

@testable import BTUTP

/// Small writes made while data is in flight wait and travel together (Nagle), and a lone small write is
/// sent at once.
struct SmallWritesAreCoalesced {
    @Test func tenByteWritesShareFullPackets() {
        var pair = UTPPair()
        pair.pathToA.delay = .milliseconds(50)
        pair.pathToB.delay = .milliseconds(50)
        pair.run(for: .seconds(1)) { _ in false }
        let before = pair.packetsFromA.filter { $0.type == .data }.count
        var expected = ByteBuffer()
        for index in 0..<1000 {
            var chunk = ByteBuffer(repeating: UInt8(truncatingIfNeeded: index), count: 10)
            expected.writeImmutableBuffer(chunk)
            pair.apply(pair.a.write(&chunk, now: pair.now), fromA: true)
            pair.run(for: .milliseconds(1)) { _ in false }
        }
        pair.run(for: .seconds(5)) { $0.receivedByB.readableBytes == 10_000 }
        #expect(pair.receivedByB == expected)
        let dataPackets = pair.packetsFromA.filter { $0.type == .data }.count - before
        #expect(dataPackets <= 25, "10,000 bytes in \(dataPackets) packets")
        #expect(
            pair.packetsFromA.filter { $0.type == .data }.first!.payload.readableBytes == 10, "the first goes at once")
    }
}
