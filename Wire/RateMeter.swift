import NIOCore

/// A rolling average of bytes per second over the last ``window`` seconds, in one-second buckets.
/// Time is given by the caller (no clock inside). The buckets are allocated by the first ``record(_:at:)``,
/// so a meter that never counts a byte (an idle connection's) costs no heap memory.
public struct RateMeter: Hashable, Sendable {
    /// Length of the averaging window, in seconds.
    public let window: Int
    /// Empty until the first record, then `window` buckets.
    private var buckets: [Int] = []
    private var currentSecond: Int64?
    private var firstSecond: Int64?
    /// Total bytes ever recorded.
    public private(set) var total: Int64 = 0

    /// Creates a meter averaging over `window` seconds (default 20, as libtorrent's peer rates).
    public init(window: Int = 20) {
        precondition(window > 0)
        self.window = window
    }

    /// Whether the meter holds its buckets (it has recorded something); for memory tests.
    package var hasBuckets: Bool { !buckets.isEmpty }

    private mutating func advance(to now: NIODeadline) {
        let second = Int64(now.uptimeNanoseconds / 1_000_000_000)
        guard let current = currentSecond else {
            currentSecond = second
            firstSecond = second
            return
        }
        guard second > current else { return }
        guard !buckets.isEmpty else {
            currentSecond = second
            return
        }
        let steps = min(Int(second - current), window)
        for step in 1...steps { buckets[Int((current + Int64(step)) % Int64(window))] = 0 }
        currentSecond = second
    }

    /// Records `bytes` transferred at `now`.
    public mutating func record(_ bytes: Int, at now: NIODeadline) {
        advance(to: now)
        if buckets.isEmpty { buckets = [Int](repeating: 0, count: window) }
        buckets[Int(currentSecond! % Int64(window))] += bytes
        total += Int64(bytes)
    }

    /// Bytes per second at `now`, averaged over the window (or over the time since the first record when
    /// that is shorter, so a new connection's rate is not diluted).
    public mutating func rate(at now: NIODeadline) -> Double {
        advance(to: now)
        guard let current = currentSecond, let first = firstSecond else { return 0 }
        let span = Double(min(Int64(window), current - first + 1))
        return Double(buckets.reduce(0, +)) / span
    }
}
