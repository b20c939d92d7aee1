/// LEDBAT congestion control as uTP uses it (BEP 29; RFC 6817): the sender keeps the queuing delay it
/// causes near a target and yields to other traffic (TCP) when queues grow.
///
/// Per acknowledged bytes, the window moves by
/// `gain * (target - queuingDelay) / target * min(acked, window) / max(window, acked)`, so at most `gain`
/// bytes per round trip (BEP 29 and libutp: 3,000; RFC 6817 says one MSS). It starts in slow start: the
/// window grows by the bytes acknowledged, doubling per round trip as TCP's does (libtorrent; libutp's slow
/// start adds one packet per round trip only, less than LEDBAT's own gain), until the queuing delay reaches
/// 90 % of the target (libutp's rule and libtorrent's) or the threshold set by a loss. A loss halves the window, at most once per window of
/// packets (libtorrent's `m_loss_seq_nr`: losses of packets sent before the last cut do not cut again). A
/// retransmission timeout drops it to one packet and restarts slow start (libutp). The window never goes
/// below one packet. A window that was not filled for a second does not grow (libutp's
/// `last_maxed_out_window`: an application-limited sender would otherwise grow it without bound).
///
/// LEDBAT++ (draft-irtf-iccrg-ledbat-plus-plus-01), selected with ``Variant/ledbatPlusPlus``, changes only the
/// sender, so it stays compatible with every peer: a 60 ms target; a dynamic gain of
/// `1 / min(16, ceil(2 * target / baseDelay))` packets per round trip, so flows on short paths ramp up no
/// faster than those on long ones; slow start at that gain, ending at 3/4 of the target; a multiplicative
/// decrease above the target (`W += max(gain - (delay / target - 1) * W, -W / 2)` packets per round trip)
/// instead of LEDBAT's additive one; and periodic slowdowns: two round trips after slow start ends, the
/// window drops to two packets for two round trips and slow-starts back to where it was, and the next
/// slowdown comes 9 times the last one's duration later (at most ~10 % of the time), so that competing
/// LEDBAT flows see the true base delay and share fairly (the "latecomer advantage"). uTP measures one-way
/// delays with an unknown clock offset, so the base delay for the gain is taken as half the smallest round
/// trip seen.
public struct LEDBAT: Hashable, Sendable {
    /// Which sender algorithm runs.
    public enum Variant: Hashable, Sendable {
        /// LEDBAT as BEP 29, libutp and libtorrent run it.
        case ledbat
        /// LEDBAT++ (draft-irtf-iccrg-ledbat-plus-plus).
        case ledbatPlusPlus

        /// The target queuing delay the variant is designed for: 100 ms (BEP 29) or 60 ms (LEDBAT++).
        public var defaultTargetDelayMicroseconds: Int { self == .ledbat ? 100_000 : 60_000 }
    }

    /// The slowdown cycle of LEDBAT++.
    private enum Slowdown: Hashable, Sendable {
        /// No slowdown planned yet (initial slow start not over).
        case none
        /// The next slowdown starts at this time (milliseconds).
        case scheduled(atMilliseconds: Int64)
        /// The window is held at two packets until this time, then slow-starts back to `restore`.
        case frozen(untilMilliseconds: Int64, restore: Int, startedMilliseconds: Int64)
        /// Slow-starting back after a slowdown that started at this time.
        case recovering(startedMilliseconds: Int64)
    }

    /// The algorithm.
    public let variant: Variant
    /// The queuing delay the sender aims at, in microseconds (BEP 29: 100 ms).
    public let targetDelayMicroseconds: Int
    /// The most the window grows per round trip, in bytes (BEP 29, libutp `MAX_CWND_INCREASE_BYTES_PER_RTT`).
    public let gainBytesPerRoundTrip: Int
    /// The floor of the window: one full packet.
    public let minimumWindow: Int
    /// The ceiling of the window (the send buffer).
    public let maximumWindow: Int
    /// The congestion window, in bytes.
    public private(set) var window: Int
    /// Whether the window still grows exponentially.
    public private(set) var inSlowStart = true
    private var slowStartThreshold: Int
    /// Delays of our packets towards the peer, as the peer reports them (`timestamp_difference`).
    private var ourDelays = DelayHistory()
    /// Delays of the peer's packets towards us, as we measure them; only used for drift correction.
    private var theirDelays = DelayHistory()
    /// Losses of packets before this sequence number belong to a window already cut.
    private var lossCutBoundary: UInt16?
    private var lastWindowFullMilliseconds: Int64 = 0
    private var slowdown = Slowdown.none
    /// The fraction of a byte the window gained below 1 (LEDBAT++'s per-ACK steps are often smaller).
    private var windowFraction = 0.0
    /// The smallest round trip seen, in microseconds (LEDBAT++'s gain and slowdown timing).
    private var minimumRoundTripMicroseconds: Int?

    /// A controller starting at `initialWindow` bytes; `targetDelayMicroseconds` nil takes the variant's.
    public init(
        packetSize: Int, initialWindow: Int? = nil, maximumWindow: Int, variant: Variant = .ledbat,
        targetDelayMicroseconds: Int? = nil, gainBytesPerRoundTrip: Int = 3000
    ) {
        self.variant = variant
        self.minimumWindow = packetSize
        self.maximumWindow = max(packetSize, maximumWindow)
        self.targetDelayMicroseconds = targetDelayMicroseconds ?? variant.defaultTargetDelayMicroseconds
        self.gainBytesPerRoundTrip = gainBytesPerRoundTrip
        self.window = min(self.maximumWindow, initialWindow ?? 2 * packetSize)
        self.slowStartThreshold = self.maximumWindow
    }

    /// The current queuing delay estimate, in microseconds.
    public var queuingDelayMicroseconds: Int { Int(ourDelays.queuingDelay) }

    /// Records a `timestamp_difference` received from the peer (0 means "no measurement yet" and is skipped).
    public mutating func addDelaySample(_ timestampDifference: UInt32, nowMilliseconds: Int64) {
        guard timestampDifference != 0 else { return }
        ourDelays.add(timestampDifference, nowMilliseconds: nowMilliseconds)
    }

    /// Records the delay we measured on a packet from the peer. If the peer's base delay falls, its clock
    /// runs slow relative to ours, which makes our own measured delays grow without any queue: libutp shifts
    /// our base up by the same amount, at most 10 ms at a time, and so does this.
    public mutating func addReverseDelaySample(_ delay: UInt32, nowMilliseconds: Int64) {
        guard delay != 0 else { return }
        let previous = theirDelays.base
        theirDelays.add(delay, nowMilliseconds: nowMilliseconds)
        if let previous, let now = theirDelays.base, Wrapping.isBefore(now, previous), previous &- now <= 10_000 {
            ourDelays.shift(by: previous &- now)
        }
    }

    /// Notes that the sender stopped because the window was full (it is not application-limited).
    public mutating func noteWindowFull(nowMilliseconds: Int64) {
        lastWindowFullMilliseconds = nowMilliseconds
    }

    /// Grows or shrinks the window for `bytes` newly acknowledged. `minimumRoundTripMicroseconds` (the
    /// smallest RTT among the packets this ACK covers) caps the delay: one way is never longer than the
    /// round trip, which protects against a garbage timestamp (libutp).
    public mutating func acknowledged(bytes: Int, minimumRoundTripMicroseconds: Int?, nowMilliseconds: Int64) {
        guard bytes > 0 else { return }
        var delay = queuingDelayMicroseconds
        if let rtt = minimumRoundTripMicroseconds {
            delay = min(delay, rtt)
            self.minimumRoundTripMicroseconds = min(self.minimumRoundTripMicroseconds ?? rtt, rtt)
        }
        if variant == .ledbatPlusPlus {
            acknowledgedPlusPlus(bytes: bytes, delay: delay, nowMilliseconds: nowMilliseconds)
            return
        }
        let target = Double(targetDelayMicroseconds)
        let windowFactor = Double(min(bytes, window)) / Double(max(window, bytes))
        let delayFactor = (target - Double(delay)) / target
        var gain = Double(gainBytesPerRoundTrip) * windowFactor * delayFactor
        if gain > 0, nowMilliseconds - lastWindowFullMilliseconds > 1000 { gain = 0 }
        let ledbatWindow = max(Double(minimumWindow), Double(window) + gain)
        if inSlowStart {
            let slowStartWindow = Double(window + bytes)
            if Int(slowStartWindow) > slowStartThreshold {
                inSlowStart = false
                window = Int(ledbatWindow)
            } else if Double(delay) > target * 0.9 {
                inSlowStart = false
                slowStartThreshold = window
                window = Int(ledbatWindow)
            } else if nowMilliseconds - lastWindowFullMilliseconds <= 1000 {
                window = Int(max(slowStartWindow, ledbatWindow))
            }
        } else {
            window = Int(ledbatWindow)
        }
        window = min(maximumWindow, max(minimumWindow, window))
    }

    /// LEDBAT++'s window update (see the type's documentation).
    private mutating func acknowledgedPlusPlus(bytes: Int, delay: Int, nowMilliseconds: Int64) {
        let packet = Double(minimumWindow)
        let target = Double(targetDelayMicroseconds)
        let roundTripMilliseconds = Int64(max(1, (minimumRoundTripMicroseconds ?? 100_000) / 1000))
        let baseDelay = Double(max(1, (minimumRoundTripMicroseconds ?? 2 * targetDelayMicroseconds) / 2))
        let gain = 1 / min(16, (2 * target / baseDelay).rounded(.up))
        let acked = Double(min(bytes, window))
        let limited = nowMilliseconds - lastWindowFullMilliseconds > 1000
        switch slowdown {
        case .frozen(let until, let restore, let started):
            guard nowMilliseconds >= until else { return }
            slowStartThreshold = restore
            inSlowStart = true
            slowdown = .recovering(startedMilliseconds: started)
        case .scheduled(let at) where nowMilliseconds >= at:
            slowdown = .frozen(
                untilMilliseconds: nowMilliseconds + 2 * roundTripMilliseconds, restore: window,
                startedMilliseconds: nowMilliseconds)
            window = max(minimumWindow, 2 * minimumWindow)
            inSlowStart = false
            return
        default:
            break
        }
        var next = Double(window) + windowFraction
        if inSlowStart {
            if Double(delay) > target * 0.75 || window >= slowStartThreshold {
                endSlowStart(nowMilliseconds: nowMilliseconds, roundTripMilliseconds: roundTripMilliseconds)
            } else if !limited {
                next += gain * acked
            }
        }
        if !inSlowStart {
            if Double(delay) <= target {
                if !limited { next += gain * packet * acked / Double(window) }
            } else {
                // Per round trip: max(gain - (delay / target - 1) * W, -W / 2) packets; per ACK, its share.
                let windowPackets = Double(window) / packet
                let perRoundTrip = max(gain - (Double(delay) / target - 1) * windowPackets, -windowPackets / 2)
                next += perRoundTrip * packet * acked / Double(window)
            }
        }
        let clamped = min(Double(maximumWindow), max(Double(minimumWindow), next))
        window = Int(clamped)
        windowFraction = clamped - Double(window)
    }

    private mutating func endSlowStart(nowMilliseconds: Int64, roundTripMilliseconds: Int64) {
        inSlowStart = false
        slowStartThreshold = window
        switch slowdown {
        case .none:
            slowdown = .scheduled(atMilliseconds: nowMilliseconds + 2 * roundTripMilliseconds)
        case .recovering(let started):
            slowdown = .scheduled(atMilliseconds: nowMilliseconds + 9 * max(1, nowMilliseconds - started))
        default:
            break
        }
    }

    /// Whether LEDBAT++ holds the window at two packets for a periodic slowdown.
    public var inSlowdown: Bool {
        if case .frozen = slowdown { return true }
        return false
    }

    /// Halves the window for the loss of packet `sequence`, unless a cut already happened in the window
    /// it belongs to; `nextSequence` is the next sequence number the sender will use. Returns whether it cut.
    @discardableResult
    public mutating func lost(sequence: UInt16, nextSequence: UInt16) -> Bool {
        if let boundary = lossCutBoundary, Wrapping.isBefore(sequence, boundary) { return false }
        lossCutBoundary = nextSequence
        window = max(minimumWindow, window / 2)
        slowStartThreshold = window
        inSlowStart = false
        return true
    }

    /// A retransmission timeout: back to one packet and slow start; if nothing was in flight (an idle
    /// connection, not congestion) the window only decays by a third (libutp).
    public mutating func timedOut(idle: Bool) {
        if idle {
            window = max(minimumWindow, window * 2 / 3)
        } else {
            window = minimumWindow
            inSlowStart = true
        }
    }
}
