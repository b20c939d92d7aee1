import BTMetainfo
import NIOCore

/// One connection's BEP 11 peer exchange, both ways, without I/O: what we last told the peer and when, and
/// what the peer may tell us.
///
/// Sending: ``nextMessage(connected:now:)`` is called with the peers we are connected to (and their flags);
/// at most every ``Configuration/sendInterval`` (60 s, BEP 11 "no more than once a minute") it answers the
/// changes since the last message, at most 50 added and 50 dropped (libtorrent's limits), never our own
/// endpoints or the receiving peer's. The first message may go at once.
///
/// Receiving: ``received(_:now:)`` validates each address (no port 0, no unspecified, multicast or
/// broadcast address, none of ours, not the sender itself), ignores a message that comes sooner than
/// ``Configuration/minimumReceiveInterval`` after the previous one (counted in ``violations``, for the
/// engine to disconnect a peer that floods), and stops learning from a peer after
/// ``Configuration/maxPeersLearnt`` addresses. Never used for private torrents (BEP 27): do not create one.
///
/// ```swift
/// var pex = PeerExchangeState(excluding: [ourEndpoint, peerEndpoint], now: .now())
/// if let message = pex.nextMessage(connected: connectedPeers, now: .now()) { send(message.encoded()) }
/// let learnt = pex.received(try PEXMessage(decoding: payload), now: .now())
/// for (endpoint, flags) in learnt.added { candidates.add(endpoint, source: .pex, flags) }
/// ```
public struct PeerExchangeState: Sendable {
    /// Limits of one connection's peer exchange.
    public struct Configuration: Hashable, Sendable {
        /// Least time between two messages we send (BEP 11: once a minute).
        public var sendInterval: TimeAmount
        /// Most added peers in one message (BEP 11, libtorrent: 50).
        public var maxAddedPerMessage: Int
        /// Most dropped peers in one message (libtorrent: 50).
        public var maxDroppedPerMessage: Int
        /// A message received sooner than this after the previous accepted one is ignored and counted as a
        /// violation (a little under a minute, so a peer's timer jitter is not punished).
        public var minimumReceiveInterval: TimeAmount
        /// Most addresses learnt from one peer over the connection; later ones are ignored.
        public var maxPeersLearnt: Int

        /// Creates a configuration; the defaults follow BEP 11 and libtorrent.
        public init(
            sendInterval: TimeAmount = .seconds(60), maxAddedPerMessage: Int = 50, maxDroppedPerMessage: Int = 50,
            minimumReceiveInterval: TimeAmount = .seconds(45), maxPeersLearnt: Int = 500
        ) {
            self.sendInterval = sendInterval
            self.maxAddedPerMessage = maxAddedPerMessage
            self.maxDroppedPerMessage = maxDroppedPerMessage
            self.minimumReceiveInterval = minimumReceiveInterval
            self.maxPeersLearnt = maxPeersLearnt
        }
    }

    /// What a received message taught us.
    public struct Received: Hashable, Sendable {
        /// Valid new addresses with their flags, in message order.
        public var added: [(endpoint: PeerEndpoint, flags: PEXFlags)] = []
        /// Valid addresses the peer says it dropped.
        public var dropped: [PeerEndpoint] = []
        /// Entries ignored: invalid, excluded, repeated, beyond the per-peer bound, or the whole message when
        /// it came too soon.
        public var ignored = 0
        /// The message came sooner than ``Configuration/minimumReceiveInterval`` after the previous one and
        /// was ignored as a whole.
        public var cameTooSoon = false

        /// Creates an empty result.
        public init() {}

        /// Equal when every field is (tuples are compared element by element).
        public static func == (lhs: Received, rhs: Received) -> Bool {
            lhs.added.map(\.endpoint) == rhs.added.map(\.endpoint) && lhs.added.map(\.flags) == rhs.added.map(\.flags)
                && lhs.dropped == rhs.dropped && lhs.ignored == rhs.ignored && lhs.cameTooSoon == rhs.cameTooSoon
        }

        /// The added peers worth dialling: all of them, except, when we are upload only ourselves (a seed, or
        /// a partial seed with every piece it wants), those flagged seed or upload only (0x02): two such peers
        /// have nothing to give each other and would part at once (libtorrent does not connect them either).
        public func dialCandidates(weAreUploadOnly: Bool) -> [PeerEndpoint] {
            added.filter { !(weAreUploadOnly && $0.flags.contains(.seed)) }.map(\.endpoint)
        }

        /// Hashes every field.
        public func hash(into hasher: inout Hasher) {
            for (endpoint, flags) in added {
                hasher.combine(endpoint)
                hasher.combine(flags)
            }
            hasher.combine(dropped)
            hasher.combine(ignored)
            hasher.combine(cameTooSoon)
        }
    }

    /// The limits in force.
    public let configuration: Configuration
    /// Endpoints never sent and never learnt: ours and the receiving peer's.
    public let excluded: Set<PeerEndpoint>
    /// The peers we told this peer about and have not said were dropped.
    public private(set) var told: Set<PeerEndpoint> = []
    /// Messages received too soon (see ``Configuration/minimumReceiveInterval``).
    public private(set) var violations = 0
    /// Addresses learnt from this peer so far (bounded by ``Configuration/maxPeersLearnt``).
    public private(set) var learntCount = 0

    private var lastSent: NIODeadline?
    private var lastReceived: NIODeadline?
    private var learnt: Set<PeerEndpoint> = []

    /// Starts a connection's exchange; `excluding` holds our own endpoints and the peer's (its remote
    /// endpoint and its listen endpoint).
    public init(excluding: Set<PeerEndpoint>, configuration: Configuration = Configuration()) {
        self.excluded = excluding
        self.configuration = configuration
    }

    /// The earliest instant ``nextMessage(connected:now:)`` may answer a message (nil: at once).
    public var nextSendTime: NIODeadline? { lastSent.map { $0 + configuration.sendInterval } }

    /// The next message for this peer, or nil when the interval has not passed or nothing changed.
    ///
    /// `connected` maps the peers we are connected to (their listen endpoints) to their flags. Peers over the
    /// per-message limits wait for the next message; what is sent is remembered as told.
    public mutating func nextMessage(connected: [PeerEndpoint: PEXFlags], now: NIODeadline) -> PEXMessage? {
        if let next = nextSendTime, now < next { return nil }
        let current = connected.filter { !excluded.contains($0.key) && Self.isValid($0.key) }
        // Sorted, so the message does not depend on dictionary order.
        let added = current.keys.filter { !told.contains($0) }.sorted { Self.order($0, $1) }
            .prefix(configuration.maxAddedPerMessage)
        let dropped = told.filter { current[$0] == nil }.sorted { Self.order($0, $1) }
            .prefix(configuration.maxDroppedPerMessage)
        guard !added.isEmpty || !dropped.isEmpty else { return nil }
        var message = PEXMessage()
        for endpoint in added {
            let flags = current[endpoint]!.rawValue
            if endpoint.isV4 {
                message.added.append(endpoint)
                message.addedFlags.append(flags)
            } else {
                message.added6.append(endpoint)
                message.added6Flags.append(flags)
            }
        }
        for endpoint in dropped {
            if endpoint.isV4 { message.dropped.append(endpoint) } else { message.dropped6.append(endpoint) }
        }
        told.formUnion(added)
        told.subtract(dropped)
        lastSent = now
        return message
    }

    /// Validates a message from the peer and returns what it teaches.
    public mutating func received(_ message: PEXMessage, now: NIODeadline) -> Received {
        var result = Received()
        let entries = message.added.count + message.added6.count + message.dropped.count + message.dropped6.count
        if let last = lastReceived, now < last + configuration.minimumReceiveInterval {
            violations += 1
            result.cameTooSoon = true
            result.ignored = entries
            return result
        }
        lastReceived = now
        let added =
            message.added.enumerated().map { ($1, $0 < message.addedFlags.count ? message.addedFlags[$0] : 0) }
            + message.added6.enumerated().map { ($1, $0 < message.added6Flags.count ? message.added6Flags[$0] : 0) }
        for (endpoint, flags) in added {
            let endpoint = PeerEndpoint(address: endpoint.address.unmapped, port: endpoint.port)
            guard Self.isValid(endpoint), !excluded.contains(endpoint), learntCount < configuration.maxPeersLearnt,
                !learnt.contains(endpoint)
            else {
                result.ignored += 1
                continue
            }
            learnt.insert(endpoint)
            learntCount += 1
            result.added.append((endpoint, PEXFlags(rawValue: flags)))
        }
        for endpoint in message.dropped + message.dropped6 {
            let endpoint = PeerEndpoint(address: endpoint.address.unmapped, port: endpoint.port)
            guard Self.isValid(endpoint), !excluded.contains(endpoint) else {
                result.ignored += 1
                continue
            }
            result.dropped.append(endpoint)
        }
        return result
    }

    /// Whether an endpoint can be a peer: a port, and an address that is not unspecified, multicast or
    /// broadcast (IPv4-mapped addresses are judged by their IPv4 address).
    public static func isValid(_ endpoint: PeerEndpoint) -> Bool {
        guard endpoint.port != 0 else { return false }
        switch endpoint.address.unmapped {
        case .v4(let value):
            // 0.0.0.0/8 ("this network"), 224.0.0.0/4 multicast, 255.255.255.255 broadcast.
            return value >> 24 != 0 && value >> 28 != 0xE && value != 0xFFFF_FFFF
        case .v6(let high, let low):
            // :: unspecified, ff00::/8 multicast.
            return !(high == 0 && low == 0) && high >> 56 != 0xFF
        }
    }

    private static func order(_ a: PeerEndpoint, _ b: PeerEndpoint) -> Bool {
        a.address < b.address || (a.address == b.address && a.port < b.port)
    }
}
