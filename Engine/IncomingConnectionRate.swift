/// The rate at which one source address may open connections to us: accepts per second per address, averaged
/// over a window, beside the per-address and slot limits (which bound how many connections an address holds,
/// not how fast it opens and closes them). A pure bookkeeping component; time is given.
///
/// Modelled on libtorrent's `dos_blocker` (the DHT's `dht_block_ratelimit` of 5 per second averaged over
/// 10 s, and `dht_block_timeout` of 5 minutes); libtorrent has no such limit for peer connections, only the
/// one-per-IP rule. An address that opens more than ``Configuration/perSecond`` times the
/// ``Configuration/window`` connections within one window is refused for ``Configuration/blockTime``; every
/// attempt counts, including refused ones, so an address that keeps hammering stays refused.
///
/// Memory is bounded: at most ``Configuration/maximumTrackedAddresses`` addresses are remembered. When the
/// table is full, entries whose window has passed are forgotten first, then the one with the fewest attempts
/// (a blocked address is forgotten last).
public struct IncomingConnectionRate<Address: Hashable & Sendable>: Sendable {
    /// The limits.
    public struct Configuration: Hashable, Sendable {
        /// Connections per second one address may open, averaged over ``window`` (libtorrent's DHT: 5).
        public var perSecond: Int
        /// The window the rate is averaged over, so short bursts pass (libtorrent's DHT: 10 s).
        public var window: Duration
        /// How long an address past the rate is refused (libtorrent's `dht_block_timeout`: 300 s).
        public var blockTime: Duration
        /// Most addresses remembered at once.
        public var maximumTrackedAddresses: Int

        /// libtorrent's DHT values: 5 per second over 10 s (50 connections in a burst), then 5 minutes
        /// refused; 4,096 addresses remembered.
        public init(
            perSecond: Int = 5, window: Duration = .seconds(10), blockTime: Duration = .seconds(300),
            maximumTrackedAddresses: Int = 4_096
        ) {
            precondition(perSecond > 0 && window > .zero && blockTime >= .zero && maximumTrackedAddresses > 0)
            self.perSecond = perSecond
            self.window = window
            self.blockTime = blockTime
            self.maximumTrackedAddresses = maximumTrackedAddresses
        }

        /// Connections one address may open within one window before it is refused.
        public var attemptsPerWindow: Int {
            let (seconds, attoseconds) = window.components
            let exact = Double(perSecond) * (Double(seconds) + Double(attoseconds) / 1e18)
            return max(1, Int(exact.rounded(.down)))
        }
    }

    private struct Entry: Sendable {
        var windowStart: EngineInstant
        var attempts: Int
        var blockedUntil: EngineInstant?
    }

    /// The limits in force.
    public let configuration: Configuration
    private var entries: [Address: Entry] = [:]

    /// A limiter that remembers no address yet.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Number of addresses remembered (at most ``Configuration/maximumTrackedAddresses``).
    public var trackedCount: Int { entries.count }

    /// Whether `address` is refused at `now` (without counting an attempt).
    public func isBlocked(_ address: Address, now: EngineInstant) -> Bool {
        guard let until = entries[address]?.blockedUntil else { return false }
        return now < until
    }

    /// `address` opened a connection at `now`: whether to keep it. Counts the attempt either way.
    public mutating func admit(_ address: Address, now: EngineInstant) -> Bool {
        if entries[address] == nil, entries.count >= configuration.maximumTrackedAddresses {
            makeRoom(now: now)
        }
        var entry = entries[address] ?? Entry(windowStart: now, attempts: 0, blockedUntil: nil)
        if let until = entry.blockedUntil, now >= until {
            entry = Entry(windowStart: now, attempts: 0, blockedUntil: nil)
        }
        if now - entry.windowStart >= configuration.window {
            entry.windowStart = now
            entry.attempts = 0
        }
        entry.attempts = min(entry.attempts + 1, Int.max / 2)
        if entry.blockedUntil == nil, entry.attempts > configuration.attemptsPerWindow {
            entry.blockedUntil = now + configuration.blockTime
        }
        entries[address] = entry
        return entry.blockedUntil == nil
    }

    private mutating func makeRoom(now: EngineInstant) {
        entries = entries.filter { _, entry in
            if let until = entry.blockedUntil { return now < until }
            return now - entry.windowStart < configuration.window
        }
        guard entries.count >= configuration.maximumTrackedAddresses else { return }
        let victim = entries.min { lhs, rhs in
            let left = (lhs.value.blockedUntil == nil ? 0 : 1, lhs.value.attempts)
            let right = (rhs.value.blockedUntil == nil ? 0 : 1, rhs.value.attempts)
            return left < right
        }
        if let victim { entries[victim.key] = nil }
    }
}
