import NIOCore
import Testing

@testable import BTUTP

/// Over a simulated bottleneck with a deep buffer (1 MB/s, 20 ms each way, a 1 MiB queue, which would
/// hold a second of data), LEDBAT uses the link yet keeps the queue it builds near its 100 ms target,
/// where a loss-based sender would fill the whole buffer.
struct LEDBATFillsABottleneckWithoutFillingItsQueue {
    @Test func throughputIsNearTheLinkRateAndTheQueueNearTheTarget() {
        var pair = UTPPair(seed: 5)
        pair.pathToB.bytesPerSecond = 1_000_000
        pair.pathToB.queueBytes = 1 << 20
        pair.pathToB.delay = .milliseconds(20)
        pair.pathToA.delay = .milliseconds(20)
        let content = UTPPair.randomBytes(8 << 20, seed: 1)
        pair.pendingFromA = content
        pair.closeWhenDone = true
        let start = pair.now
        #expect(pair.run(for: .seconds(600)) { $0.receivedByB.readableBytes == content.readableBytes })
        let seconds = Double((pair.now - start).nanoseconds) / 1e9
        let goodput = Double(content.readableBytes) / seconds
        #expect(goodput > 850_000, "goodput \(Int(goodput)) B/s of a 1,000,000 B/s link (headers take ~3.5 %)")
        // Queuing delays seen by packets after the first five seconds (slow start overshoots once).
        let delays = pair.pathToB.queueDelays.dropFirst(5_000_000 / 1400).map { Double($0.nanoseconds) / 1e6 }
        let sorted = delays.sorted()
        let median = sorted[sorted.count / 2]
        let p95 = sorted[sorted.count * 95 / 100]
        #expect(median > 30 && median < 130, "median queuing delay \(median) ms, target 100 ms")
        #expect(p95 < 200, "95th percentile queuing delay \(p95) ms")
        #expect(pair.a.statistics.timeouts == 0)
        #expect(pair.receivedByB == content)
    }
}
