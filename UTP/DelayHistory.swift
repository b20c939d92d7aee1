/// One direction's one-way delay measurements for LEDBAT (RFC 6817 section 2.4.1, BEP 29).
///
/// Delays are raw `timestamp_difference` values: true delay plus the (unknown, drifting) offset of the two
/// clocks. The base delay is the minimum over the last ``historyMinutes`` one-minute buckets (libutp keeps 13,
/// `DELAY_BASE_HISTORY`, so a route change is forgotten within 13 minutes); the current delay is the
/// minimum of the last ``currentSampleCount`` samples (libutp's `CUR_DELAY_SIZE` 3), which filters a single
/// delayed packet. Queuing delay = current - base. Values wrap at 2^32 microseconds and are compared that way.
struct DelayHistory: Hashable, Sendable {
    static let historyMinutes = 13
    static let currentSampleCount = 3

    /// The minimum of all buckets, nil before the first sample.
    private(set) var base: UInt32?
    private var buckets: [UInt32] = []
    private var bucketStartedAtMilliseconds: Int64 = 0
    private var current: [UInt32] = []
    private var currentIndex = 0

    /// Adds a sample taken at `nowMilliseconds`.
    mutating func add(_ sample: UInt32, nowMilliseconds: Int64) {
        if let base, !Wrapping.isBefore(sample, base) {
            // keep base
        } else {
            base = sample
        }
        if buckets.isEmpty {
            buckets = [sample]
            bucketStartedAtMilliseconds = nowMilliseconds
        } else if nowMilliseconds - bucketStartedAtMilliseconds >= 60_000 {
            buckets.append(sample)
            if buckets.count > Self.historyMinutes { buckets.removeFirst() }
            bucketStartedAtMilliseconds = nowMilliseconds
            base = buckets.min { Wrapping.isBefore($0, $1) }
        } else if Wrapping.isBefore(sample, buckets[buckets.count - 1]) {
            buckets[buckets.count - 1] = sample
        }
        if current.count < Self.currentSampleCount {
            current.append(sample)
        } else {
            current[currentIndex] = sample
            currentIndex = (currentIndex + 1) % Self.currentSampleCount
        }
    }

    /// The current queuing delay in microseconds above the base, 0 before any sample.
    var queuingDelay: UInt32 {
        guard let base, let minimum = current.min(by: { Wrapping.isBefore($0, $1) }) else { return 0 }
        return Wrapping.isBefore(minimum, base) ? 0 : minimum &- base
    }

    /// Moves the base (and every bucket) up by `offset` microseconds: the clock-drift correction of libutp,
    /// applied when the opposite direction's base keeps falling (the remote clock runs slower than ours).
    mutating func shift(by offset: UInt32) {
        base = base.map { $0 &+ offset }
        buckets = buckets.map { $0 &+ offset }
    }
}
