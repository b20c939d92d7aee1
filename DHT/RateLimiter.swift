import NIOCore

/// Limits the queries served per source address (libtorrent's `dos_blocker`): a token bucket per IP, and an
/// address that exceeds it is ignored for a while. The table of addresses is bounded; when full, the
/// address heard from least recently is forgotten.
public struct RateLimiter: Sendable {
    struct Entry: Sendable {
        var tokens: Double
        var updated: NIODeadline
        var blockedUntil: NIODeadline?
    }

    /// Sustained queries per second allowed per address.
    public let ratePerSecond: Double
    /// Burst allowed above the rate.
    public let burst: Double
    /// How long an address that exceeded the rate is ignored.
    public let blockDuration: TimeAmount
    /// Most addresses tracked.
    public let maximumAddresses: Int
    var entries: [DHTEndpoint.IP: Entry] = [:]

    /// Creates a limiter (defaults: 20 queries per second with a burst of 40, 5 minutes of silence after).
    public init(
        ratePerSecond: Double = 20, burst: Double = 40, blockDuration: TimeAmount = .minutes(5),
        maximumAddresses: Int = 1024
    ) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.blockDuration = blockDuration
        self.maximumAddresses = max(1, maximumAddresses)
    }

    /// Number of addresses tracked.
    public var trackedCount: Int { entries.count }

    /// Accounts one query from `ip`; false if it must be dropped.
    public mutating func allow(_ ip: DHTEndpoint.IP, now: NIODeadline) -> Bool {
        guard var entry = entries[ip] else {
            if entries.count >= maximumAddresses,
                let oldest = entries.min(by: { ($0.value.updated, $0.key) < ($1.value.updated, $1.key) })
            {
                entries[oldest.key] = nil
            }
            entries[ip] = Entry(tokens: burst - 1, updated: now)
            return true
        }
        if let until = entry.blockedUntil {
            if now < until { return false }
            entry.blockedUntil = nil
            entry.tokens = burst
        }
        let elapsed = Double((now - entry.updated).nanoseconds) / 1e9
        entry.tokens = min(burst, entry.tokens + max(0, elapsed) * ratePerSecond)
        entry.updated = now
        if entry.tokens < 1 {
            entry.blockedUntil = now + blockDuration
            entries[ip] = entry
            return false
        }
        entry.tokens -= 1
        entries[ip] = entry
        return true
    }
}
