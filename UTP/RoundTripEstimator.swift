import NIOCore

/// The round-trip time and retransmission timeout of a connection (BEP 29, "timeouts").
///
/// Samples come from packets sent once only (Karn's rule: an ACK of a retransmitted packet says nothing
/// about which transmission it answers). The first sample sets `rtt = sample, rtt_var = sample / 2`;
/// later ones use the TCP gains 1/8 and 1/4; the timeout is `rtt + 4 * rtt_var`, at least
/// ``minimumTimeout`` (BEP 29 and libtorrent's `utp_min_timeout` say 500 ms; libutp uses 1,000 ms), and
/// doubles on every timeout (back-off) up to ``maximumTimeout`` (libtorrent caps at 60 s).
public struct RoundTripEstimator: Hashable, Sendable {
    /// The floor of the retransmission timeout.
    public let minimumTimeout: TimeAmount
    /// The ceiling of the retransmission timeout, back-off included.
    public let maximumTimeout: TimeAmount
    /// The smoothed round-trip time, nil before the first sample.
    public private(set) var smoothed: TimeAmount?
    /// The smoothed mean deviation.
    public private(set) var variance: TimeAmount = .zero
    /// The current timeout, back-off included.
    public private(set) var timeout: TimeAmount

    /// An estimator with no sample yet; `initialTimeout` is used until the first one (BEP 29: 1 s).
    public init(
        initialTimeout: TimeAmount = .milliseconds(1000), minimumTimeout: TimeAmount = .milliseconds(500),
        maximumTimeout: TimeAmount = .seconds(60)
    ) {
        self.minimumTimeout = minimumTimeout
        self.maximumTimeout = maximumTimeout
        self.timeout = initialTimeout
    }

    /// Adds a sample and resets any back-off.
    public mutating func add(sample: TimeAmount) {
        let sample = max(sample, .zero)
        if let rtt = smoothed {
            let delta = TimeAmount.nanoseconds(abs((rtt - sample).nanoseconds))
            variance = variance + .nanoseconds((delta - variance).nanoseconds / 4)
            smoothed = rtt + .nanoseconds((sample - rtt).nanoseconds / 8)
        } else {
            smoothed = sample
            variance = .nanoseconds(sample.nanoseconds / 2)
        }
        resetBackOff()
    }

    /// Forgets the back-off: the timeout is computed from the estimates again. libutp does this whenever a
    /// packet is acknowledged (`retransmit_timeout = rto` in `ack_packet`), retransmitted or not: progress
    /// proves the path works, even when Karn's rule gives no sample.
    public mutating func resetBackOff() {
        guard let rtt = smoothed else { return }
        timeout = min(maximumTimeout, max(minimumTimeout, rtt + .nanoseconds(variance.nanoseconds * 4)))
    }

    /// Doubles the timeout after a timeout (exponential back-off), up to ``maximumTimeout``.
    public mutating func backOff() {
        timeout = min(maximumTimeout, .nanoseconds(timeout.nanoseconds * 2))
    }
}
