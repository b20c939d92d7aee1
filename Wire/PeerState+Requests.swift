import BTMetainfo
import NIOCore

extension PeerStateMachine {
    /// Our requests to the peer: what is in flight and since when, what we cancelled (its block may still
    /// arrive and is then no lie), and when the last requested block came. Exists only while the
    /// connection is active.
    struct RequestPipeline: Sendable {
        /// Requests sent and not yet answered, with when they were sent (or last renewed).
        private var inFlight: [BlockRequest: NIODeadline] = [:]
        /// Requests we cancelled or gave up on; bounded (see ``rememberCancelled(_:)``).
        private var cancelled: Set<BlockRequest> = []
        /// When the last requested block arrived.
        private var lastBlock: NIODeadline?

        /// An empty pipeline.
        init() {}

        /// Requests in flight.
        var count: Int { inFlight.count }

        /// Whether `block` is requested and not yet answered.
        func contains(_ block: BlockRequest) -> Bool { inFlight[block] != nil }

        /// The requests in flight in piece, offset, length order.
        var sorted: [BlockRequest] { inFlight.keys.sorted(by: PeerStateMachine.order) }

        /// Records a request sent at `now`.
        mutating func add(_ block: BlockRequest, now: NIODeadline) {
            inFlight[block] = now
            cancelled.remove(block)
        }

        /// Cancels a request in flight; false when it was not in flight.
        mutating func cancel(_ block: BlockRequest) -> Bool {
            guard inFlight.removeValue(forKey: block) != nil else { return false }
            rememberCancelled(block)
            return true
        }

        /// The block for `request` arrived at `now`: true when it was in flight (deliver it), false when we
        /// had cancelled it (a late block is allowed and simply wasted). Any other block is a lie.
        mutating func received(_ request: BlockRequest, now: NIODeadline) throws(Closing) -> Bool {
            guard inFlight.removeValue(forKey: request) != nil else {
                if cancelled.remove(request) != nil { return false }
                throw Closing(.protocolViolation, "unrequested block: \(request)")
            }
            lastBlock = now
            return true
        }

        /// The peer rejected `request` (BEP 6): true when it was in flight.
        mutating func rejected(_ request: BlockRequest) -> Bool {
            defer { cancelled.remove(request) }
            return inFlight.removeValue(forKey: request) != nil
        }

        /// Drops every request in flight (a BEP 3 choke), in order.
        mutating func removeAll() -> [BlockRequest] {
            let dropped = sorted
            inFlight.removeAll()
            return dropped
        }

        /// Whether no block came for `timeout` while requests were out (counted from the oldest request or
        /// the last block, whichever is later).
        func isOverdue(now: NIODeadline, timeout: TimeAmount) -> Bool {
            guard let oldest = inFlight.values.min() else { return false }
            return now - max(oldest, lastBlock ?? oldest) >= timeout
        }

        /// The request timeout fired: every request is given up except, unless `keepingOldest` is false, the
        /// oldest one, whose clock restarts. Returns the requests given up, oldest first, to cancel.
        mutating func timeOut(keepingOldest: Bool, now: NIODeadline) -> [BlockRequest] {
            let ordered = inFlight.sorted {
                $0.value < $1.value || ($0.value == $1.value && PeerStateMachine.order($0.key, $1.key))
            }
            var givenUp: [BlockRequest] = []
            for (block, _) in ordered.dropFirst(keepingOldest ? 1 : 0) {
                inFlight[block] = nil
                rememberCancelled(block)
                givenUp.append(block)
            }
            if keepingOldest, let first = ordered.first { inFlight[first.key] = now }
            return givenUp
        }

        /// Remembers a cancelled request so that its block, if it still arrives, is not taken for a lie.
        /// Bounded: a peer that never answers cancels cannot make this grow without limit.
        private mutating func rememberCancelled(_ block: BlockRequest) {
            if cancelled.count >= 4096 { cancelled.removeAll() }
            cancelled.insert(block)
        }
    }

    /// Piece, offset, length order of requests (for stable action lists).
    static func order(_ a: BlockRequest, _ b: BlockRequest) -> Bool {
        (a.piece, a.offset, a.length) < (b.piece, b.offset, b.length)
    }
}
