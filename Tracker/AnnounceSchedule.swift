import NIOCore

/// One torrent's trackers and when to announce to each: BEP 12 multitracker tiers plus announce scheduling,
/// as a pure state machine with the time injected.
///
/// - Tiers are shuffled once, when the schedule is made (BEP 12); within a tier trackers are tried in order
///   and the one that answers moves to the front.
/// - With ``Configuration/announceToAllTiers`` (the default, like libtorrent's `announce_to_all_tiers`) the
///   first working tracker of every tier is announced to; without it only one tier is used at a time, the
///   next tier being tried when every tracker of the current one has failed (strict BEP 12).
/// - A tracker's `interval` sets the next regular announce, `min interval` bounds forced re-announces, and a
///   failing tracker is retried after an exponential back-off while the tier moves on to its next tracker.
/// - Each tracker gets `started` first, `completed` once after ``completed(now:)``, and `stopped` from
///   ``stop(now:)`` if it was ever started.
/// - A private torrent (BEP 27) uses only its own trackers: extra trackers are ignored.
///
/// The driver calls ``due(now:)``, performs the announces it returns, and reports each outcome with
/// ``succeeded(_:response:now:)`` or ``failed(_:error:now:)``; ``nextDeadline`` says when to call again.
public struct AnnounceSchedule: Sendable {
    /// Scheduling knobs.
    public struct Configuration: Sendable, Hashable {
        /// Announce to the first working tracker of every tier (true) or of the first working tier only.
        public var announceToAllTiers: Bool
        /// First back-off after a failure; doubles with every consecutive failure.
        public var retryBase: TimeAmount
        /// Longest back-off.
        public var retryMax: TimeAmount
        /// Shortest interval honoured, whatever the tracker says.
        public var minimumInterval: TimeAmount

        /// Creates a configuration.
        public init(
            announceToAllTiers: Bool = true, retryBase: TimeAmount = .seconds(60),
            retryMax: TimeAmount = .seconds(3600),
            minimumInterval: TimeAmount = .seconds(60)
        ) {
            self.announceToAllTiers = announceToAllTiers
            self.retryBase = retryBase
            self.retryMax = retryMax
            self.minimumInterval = minimumInterval
        }

        /// Back-off after `failures` consecutive failures.
        public func backoff(failures: Int) -> TimeAmount {
            let exponent = min(max(0, failures - 1), 20)
            let delay = retryBase.nanoseconds.multipliedReportingOverflow(by: Int64(1) << exponent)
            return delay.overflow ? retryMax : min(.nanoseconds(delay.partialValue), retryMax)
        }
    }

    /// One tracker's state, for display and tests.
    public struct Tracker: Sendable, Hashable {
        /// The announce URL.
        public let url: String
        /// Consecutive failures.
        public internal(set) var failures = 0
        /// The last failure, cleared by a success.
        public internal(set) var lastError: TrackerError?
        /// Not before this time after a failure.
        public internal(set) var retryAt: NIODeadline?
        /// Whether `started` was acknowledged (so `stopped` is owed).
        public internal(set) var isStarted = false
        /// The `tracker id` to echo.
        public internal(set) var trackerID: [UInt8]?
        /// The last successful response.
        public internal(set) var lastResponse: AnnounceResponse?

        init(url: String) { self.url = url }
    }

    /// An announce the driver should send now.
    public struct Announce: Sendable, Hashable {
        /// The tracker's announce URL.
        public var url: String
        /// The event to send.
        public var event: AnnounceEvent
        /// The `tracker id` to echo, if the tracker gave one.
        public var trackerID: [UInt8]?

        /// Creates an announce description.
        public init(url: String, event: AnnounceEvent, trackerID: [UInt8]? = nil) {
            self.url = url
            self.event = event
            self.trackerID = trackerID
        }
    }

    struct Tier: Sendable {
        var trackers: [Tracker]
        var cursor = 0
        var nextAnnounce: NIODeadline
        var inFlight: AnnounceEvent?
        var lastAnnounce: NIODeadline?
        var minInterval: TimeAmount = .zero
        var completedPending = false
    }

    /// The configuration in use.
    public let configuration: Configuration
    private var tierStates: [Tier]
    private var activeTier = 0
    private var isStopped = false
    private var completionReported = false

    /// Creates a schedule for a torrent's tiers (`Torrent.announceTiers`), shuffling each tier once.
    /// `extraTiers` (user-added or magnet `tr` trackers) are appended unless `isPrivate` (BEP 27).
    /// Duplicate and empty URLs are dropped. Every tier is due at `now`.
    public init(
        tiers: [[String]], isPrivate: Bool, extraTiers: [[String]] = [], configuration: Configuration = .init(),
        random: inout TrackerRandom, now: NIODeadline
    ) {
        self.configuration = configuration
        var seen: Set<String> = []
        var states: [Tier] = []
        for tier in tiers + (isPrivate ? [] : extraTiers) {
            var urls = tier.filter { !$0.isEmpty && seen.insert($0).inserted }
            guard !urls.isEmpty else { continue }
            urls.shuffle(using: &random)
            states.append(Tier(trackers: urls.map(Tracker.init(url:)), nextAnnounce: now))
        }
        tierStates = states
    }

    /// The tiers in their current order (after shuffling and promotions).
    public var tiers: [[Tracker]] { tierStates.map(\.trackers) }

    /// Whether ``stop(now:)`` was called.
    public var stopped: Bool { isStopped }

    /// The announces due at `now`; each is marked in flight until its outcome is reported.
    public mutating func due(now: NIODeadline) -> [Announce] {
        guard !isStopped else { return [] }
        var out: [Announce] = []
        for index in tierStates.indices where isActive(index) {
            var tier = tierStates[index]
            guard tier.inFlight == nil, tier.nextAnnounce <= now else { continue }
            let tracker = tier.trackers[tier.cursor]
            let event: AnnounceEvent = !tracker.isStarted ? .started : (tier.completedPending ? .completed : .none)
            tier.inFlight = event
            tier.lastAnnounce = now
            tierStates[index] = tier
            out.append(Announce(url: tracker.url, event: event, trackerID: tracker.trackerID))
        }
        return out
    }

    /// When ``due(now:)`` will next have something to return (nil: nothing pending, or stopped).
    public var nextDeadline: NIODeadline? {
        guard !isStopped else { return nil }
        return tierStates.indices.filter { isActive($0) && tierStates[$0].inFlight == nil }
            .map { tierStates[$0].nextAnnounce }.min()
    }

    /// Reports a successful announce to `url`.
    public mutating func succeeded(_ url: String, response: AnnounceResponse, now: NIODeadline) {
        guard let (t, i) = locate(url) else { return }
        var tier = tierStates[t]
        var tracker = tier.trackers[i]
        let event = tier.inFlight
        tier.inFlight = nil
        tracker.failures = 0
        tracker.lastError = nil
        tracker.retryAt = nil
        tracker.isStarted = event != .stopped
        tracker.lastResponse = response
        if let id = response.trackerID { tracker.trackerID = id }
        if event == .completed { tier.completedPending = false }
        // BEP 12: the tracker that answered moves to the front of its tier.
        tier.trackers.remove(at: i)
        tier.trackers.insert(tracker, at: 0)
        tier.cursor = 0
        tier.minInterval = .seconds(Int64(response.minInterval ?? 0))
        let interval = max(.seconds(Int64(response.interval)), configuration.minimumInterval, tier.minInterval)
        // A download that finished while this announce was in flight (say, the first `started`) still has its
        // `completed` to send: now, not a whole interval later.
        tier.nextAnnounce = tier.completedPending ? now : now + interval
        tierStates[t] = tier
        if !configuration.announceToAllTiers { activeTier = t }
    }

    /// Reports a failed announce to `url`: the tracker backs off and its tier moves on to its next tracker.
    public mutating func failed(_ url: String, error: TrackerError, now: NIODeadline) {
        guard let (t, i) = locate(url) else { return }
        var tier = tierStates[t]
        tier.inFlight = nil
        tier.trackers[i].failures += 1
        tier.trackers[i].lastError = error
        tier.trackers[i].retryAt = now + configuration.backoff(failures: tier.trackers[i].failures)
        if let next = tier.trackers.indices.first(where: { $0 > i && (tier.trackers[$0].retryAt ?? now) <= now }) {
            tier.cursor = next
            tier.nextAnnounce = now
        } else {
            // Every tracker of the tier is backing off: wait for the one that is free soonest.
            let soonest = tier.trackers.indices.min {
                (tier.trackers[$0].retryAt ?? now) < (tier.trackers[$1].retryAt ?? now)
            }!
            tier.cursor = soonest
            tier.nextAnnounce = tier.trackers[soonest].retryAt ?? now
        }
        let tierExhausted = tier.trackers.allSatisfy { $0.failures > 0 }
        tierStates[t] = tier
        if !configuration.announceToAllTiers && tierExhausted && t == activeTier && tierStates.count > 1 {
            activeTier = (t + 1) % tierStates.count
        }
    }

    /// The download finished: the next announce to each tier carries `completed` (once), and is due now.
    public mutating func completed(now: NIODeadline) {
        guard !completionReported, !isStopped else { return }
        completionReported = true
        for index in tierStates.indices {
            tierStates[index].completedPending = true
            if tierStates[index].trackers.contains(where: \.isStarted) {
                tierStates[index].nextAnnounce = min(tierStates[index].nextAnnounce, now)
            }
        }
    }

    /// Asks for an early announce (more peers wanted), honouring each tier's `min interval`.
    public mutating func reannounce(now: NIODeadline) {
        for index in tierStates.indices {
            let earliest = tierStates[index].lastAnnounce.map { $0 + tierStates[index].minInterval } ?? now
            tierStates[index].nextAnnounce = min(tierStates[index].nextAnnounce, max(now, earliest))
        }
    }

    /// The torrent is being removed: returns a `stopped` announce for every tracker that was started, and
    /// schedules nothing more.
    public mutating func stop(now: NIODeadline) -> [Announce] {
        guard !isStopped else { return [] }
        isStopped = true
        var out: [Announce] = []
        for t in tierStates.indices {
            for i in tierStates[t].trackers.indices where tierStates[t].trackers[i].isStarted {
                let tracker = tierStates[t].trackers[i]
                out.append(Announce(url: tracker.url, event: .stopped, trackerID: tracker.trackerID))
                tierStates[t].trackers[i].isStarted = false
            }
        }
        return out
    }

    private func isActive(_ tier: Int) -> Bool { configuration.announceToAllTiers || tier == activeTier }

    private func locate(_ url: String) -> (Int, Int)? {
        for t in tierStates.indices {
            if let i = tierStates[t].trackers.firstIndex(where: { $0.url == url }) { return (t, i) }
        }
        return nil
    }
}
