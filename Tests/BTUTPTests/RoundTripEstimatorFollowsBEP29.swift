import NIOCore
import Testing

@testable import BTUTP

/// The retransmission timeout follows BEP 29: rtt + 4 rtt_var, with a floor, doubling on timeouts.
struct RoundTripEstimatorFollowsBEP29 {
    @Test func firstSampleSetsRTTAndHalfOfItAsVariance() {
        var estimator = RoundTripEstimator()
        #expect(estimator.timeout == .milliseconds(1000), "BEP 29: 1 s before any sample")
        estimator.add(sample: .milliseconds(400))
        #expect(estimator.smoothed == .milliseconds(400))
        #expect(estimator.variance == .milliseconds(200))
        #expect(estimator.timeout == .milliseconds(1200))
    }

    @Test func laterSamplesUseGainsOfAnEighthAndAQuarter() {
        var estimator = RoundTripEstimator()
        estimator.add(sample: .milliseconds(400))
        estimator.add(sample: .milliseconds(800))
        // delta 400: var = 200 + (400 - 200) / 4 = 250; rtt = 400 + 400 / 8 = 450; timeout = 450 + 1000.
        #expect(estimator.variance == .milliseconds(250))
        #expect(estimator.smoothed == .milliseconds(450))
        #expect(estimator.timeout == .milliseconds(1450))
    }

    @Test func timeoutNeverGoesBelowTheFloor() {
        var estimator = RoundTripEstimator()
        for _ in 0..<50 { estimator.add(sample: .microseconds(100)) }
        #expect(estimator.timeout == .milliseconds(500))
    }

    @Test func backOffDoublesUpToTheCeilingAndASampleResetsIt() {
        var estimator = RoundTripEstimator()
        estimator.add(sample: .milliseconds(100))
        let base = estimator.timeout
        estimator.backOff()
        #expect(estimator.timeout == base * 2)
        for _ in 0..<20 { estimator.backOff() }
        #expect(estimator.timeout == .seconds(60))
        estimator.add(sample: .milliseconds(100))
        #expect(estimator.timeout < .seconds(1))
    }
}
