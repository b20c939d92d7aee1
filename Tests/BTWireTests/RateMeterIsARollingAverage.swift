import NIOCore
import Testing

@testable import BTWire

@Test func rateMeterAveragesOverItsWindowAndForgetsOldSeconds() {
    var meter = RateMeter(window: 5)
    let start = NIODeadline.uptimeNanoseconds(10_000_000_000)
    #expect(meter.rate(at: start) == 0)
    for second in 0..<5 { meter.record(1000, at: start + .seconds(Int64(second))) }
    #expect(meter.rate(at: start + .seconds(4)) == 1000)
    #expect(meter.total == 5000)
    // A young connection is averaged over its own age, not diluted over the whole window.
    var young = RateMeter(window: 20)
    young.record(4000, at: start)
    young.record(4000, at: start + .seconds(1))
    #expect(young.rate(at: start + .seconds(1)) == 4000)
    // Ten idle seconds later the window holds nothing.
    #expect(meter.rate(at: start + .seconds(14)) == 0)
    meter.record(500, at: start + .seconds(14))
    #expect(meter.rate(at: start + .seconds(14)) == 100)
}
