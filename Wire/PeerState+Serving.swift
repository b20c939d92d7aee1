import BTMetainfo

extension PeerStateMachine {
    /// The peer's requests to us: those accepted and not yet answered, in order, and the counts of
    /// requests that broke the rules (BEP 3 and 6), which end the connection once there are too many.
    /// Exists only while the connection is active.
    struct ServingQueue: Sendable {
        /// How a request from the peer is answered.
        enum Answer: Sendable {
            /// Accepted: read the block.
            case serve
            /// Refused with a BEP 6 `reject`.
            case reject
            /// Dropped without an answer (BEP 3 has no reject), or already queued.
            case ignore
        }

        /// Accepted requests, oldest first.
        private(set) var requests: [BlockRequest] = []
        /// How many of ``requests``, from the front, the driver has claimed to read (``claimNext()``). Claims
        /// take the oldest unclaimed request and removals keep the order, so the claimed ones are always a
        /// prefix: the rest wait for the driver, which reads them as its own limits allow. This is the one
        /// upload queue; the driver keeps no copy of it.
        private(set) var claimedCount = 0
        /// Requests for data we do not have or outside the piece.
        private var invalidRequests = 0
        /// Requests while choked or beyond our queue, since the last unchoke.
        private var excessRequests = 0
        /// Requests accepted while we choke the peer, per allowed-fast piece (at most the allowed-fast set's
        /// size of entries): a peer may fetch an allowed-fast piece, not fetch it again and again (a
        /// request+cancel flood does exactly that).
        private var allowedFastRequests: [Int: Int] = [:]

        /// An empty queue.
        init() {}

        /// Whether `request` is accepted and not yet answered.
        func contains(_ request: BlockRequest) -> Bool { requests.contains(request) }

        /// Decides on a request from the peer. `choking`: we choke it; `allowedFast`: the piece is one we
        /// allowed fast; `fast`: both sides have BEP 6 (rejects exist); `valid`: we have the piece and the
        /// block lies inside it. Too many requests while choked or beyond our queue are a flood, repeated
        /// invalid ones a violation.
        mutating func admit(
            _ request: BlockRequest, choking: Bool, allowedFast: Bool, fast: Bool, valid: Bool,
            configuration: PeerConfiguration
        ) throws(Closing) -> Answer {
            // Choked: only allowed-fast pieces may be requested (BEP 6); a request in flight when we choked is
            // normal, so it is rejected (fast) or ignored (BEP 3), not punished.
            if choking && fast && allowedFast {
                // libtorrent's rule: more than 3 times a piece's blocks of one allowed-fast piece while choked
                // is a flood (too_many_requests_when_choked), however many were cancelled meanwhile.
                let blocksPerPiece = max(1, (configuration.pieceLength + 16383) / 16384)
                let count = (allowedFastRequests[request.piece] ?? 0) + 1
                allowedFastRequests[request.piece] = count
                if count > 3 * blocksPerPiece {
                    throw Closing(
                        .requestFlood, "\(count) requests for allowed-fast piece \(request.piece) while choked")
                }
            }
            if choking && !(fast && allowedFast) {
                guard fast else { return .ignore }
                excessRequests += 1
                if excessRequests > configuration.maxServingQueue * 2 {
                    throw Closing(.requestFlood, "\(excessRequests) requests while choked")
                }
                return .reject
            }
            guard valid else {
                invalidRequests += 1
                if !fast && invalidRequests >= 2 || invalidRequests > configuration.maxInvalidRequests {
                    throw Closing(.protocolViolation, "repeated requests for data we do not have (\(request))")
                }
                return fast ? .reject : .ignore
            }
            if requests.contains(request) { return .ignore }
            guard requests.count < configuration.maxServingQueue else {
                excessRequests += 1
                if !fast || excessRequests > configuration.maxServingQueue {
                    throw Closing(.requestFlood, "more than \(configuration.maxServingQueue) outstanding requests")
                }
                return .reject
            }
            requests.append(request)
            return .serve
        }

        /// The oldest accepted request nobody has claimed to read yet.
        var nextUnclaimed: BlockRequest? { claimedCount < requests.count ? requests[claimedCount] : nil }

        /// Payload bytes of the requests not claimed yet.
        var unclaimedBytes: Int { requests[claimedCount...].reduce(0) { $0 + $1.length } }

        /// Claims the oldest unclaimed request for reading and returns it; nil when none waits.
        mutating func claimNext() -> BlockRequest? {
            guard let next = nextUnclaimed else { return nil }
            claimedCount += 1
            return next
        }

        /// Takes `request` out of the queue (served, cancelled, or its read failed); false when it was not
        /// there.
        mutating func take(_ request: BlockRequest) -> Bool {
            guard let index = requests.firstIndex(of: request) else { return false }
            requests.remove(at: index)
            if index < claimedCount { claimedCount -= 1 }
            return true
        }

        /// We choked the peer: drops the requests that `keeps` does not keep and returns them, in order.
        mutating func choke(keeping keeps: (BlockRequest) -> Bool) -> [BlockRequest] {
            let dropped = requests.filter { !keeps($0) }
            claimedCount = requests[..<claimedCount].filter(keeps).count
            requests.removeAll { !keeps($0) }
            return dropped
        }

        /// We unchoked the peer: requests it sent while choked are forgiven.
        mutating func unchoked() {
            excessRequests = 0
        }
    }
}
