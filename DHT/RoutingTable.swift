import NIOCore

/// What a routing table knows about one node (BEP 5 "good", "questionable" and "bad" are derived from it).
public struct RoutingNode: Hashable, Sendable {
    /// The node's id and endpoint.
    public var info: DHTNodeInfo
    /// When it last answered one of our queries; nil if it never has.
    public var lastResponse: NIODeadline?
    /// When we last heard anything from it (a query or a response).
    public var lastSeen: NIODeadline
    /// Queries in a row it failed to answer.
    public var failCount: Int
    /// The last measured round-trip time.
    public var roundTrip: TimeAmount?
    /// A replacement candidate we only heard about has been pinged to confirm it.
    public var confirmationSent = false

    /// Creates an entry.
    public init(info: DHTNodeInfo, lastSeen: NIODeadline, lastResponse: NIODeadline? = nil) {
        self.info = info
        self.lastSeen = lastSeen
        self.lastResponse = lastResponse
        self.failCount = 0
    }

    /// BEP 5 node state.
    public enum State: Hashable, Sendable {
        /// Answered a query within the last 15 minutes and has not failed since.
        case good
        /// Not heard from recently, or never confirmed by a response.
        case questionable
        /// Failed to answer several queries in a row.
        case bad
    }

    /// BEP 5: good if it responded within 15 minutes; bad after ``RoutingTable/badFailCount`` failures.
    public func state(at now: NIODeadline) -> State {
        if failCount >= RoutingTable.badFailCount { return .bad }
        if failCount == 0, let last = lastResponse, now - last < RoutingTable.goodInterval { return .good }
        return .questionable
    }
}

/// Settings of a routing table.
public struct RoutingTableConfiguration: Hashable, Sendable {
    /// Nodes per bucket, k (BEP 5: 8).
    public var bucketSize: Int
    /// libtorrent's `dht_extended_routing_table`: the four buckets farthest from us hold 16, 8, 4 and 2 times
    /// k nodes, so the first hops of a lookup land closer to the target.
    public var largerTopBuckets: Bool
    /// Replacement candidates kept per bucket.
    public var replacementCacheSize: Int
    /// One node per IP address (libtorrent's `dht_restrict_routing_ips`, without its /24 rule).
    public var onePerAddress: Bool
    /// BEP 42 enforcement (libtorrent's `dht_enforce_node_id`): ids that do not match their address are
    /// refused.
    public var enforceSecureIDs: Bool

    /// Creates a configuration; the defaults follow libtorrent's.
    public init(
        bucketSize: Int = 8, largerTopBuckets: Bool = true, replacementCacheSize: Int = 8, onePerAddress: Bool = true,
        enforceSecureIDs: Bool = false
    ) {
        self.bucketSize = max(1, min(bucketSize, 64))
        self.largerTopBuckets = largerTopBuckets
        self.replacementCacheSize = max(0, min(replacementCacheSize, 64))
        self.onePerAddress = onePerAddress
        self.enforceSecureIDs = enforceSecureIDs
    }
}

/// A Kademlia routing table (BEP 5): buckets by shared prefix length with our id, where only the bucket
/// holding our own id splits, k nodes per bucket (more in the top buckets, as libtorrent does), a
/// replacement cache per bucket, and node states good/questionable/bad.
///
/// Bucket `i` (for `i` below the last) holds nodes sharing exactly `i` leading bits with our id; the last
/// bucket holds every node sharing at least that many.
public struct RoutingTable: Sendable {
    /// BEP 5: a node is good if it responded within 15 minutes.
    public static let goodInterval = TimeAmount.minutes(15)
    /// Failures in a row after which a node is bad.
    public static let badFailCount = 2
    /// Failures in a row after which a node is dropped even without a replacement.
    public static let dropFailCount = 5
    /// A bucket not changed for this long is refreshed by a lookup of a random id in its range.
    public static let refreshInterval = TimeAmount.minutes(15)
    /// The most buckets a table can have (one per bit of the id).
    public static let maximumBuckets = 160

    struct Bucket: Sendable {
        var live: [RoutingNode] = []
        var replacements: [RoutingNode] = []
        var lastChanged: NIODeadline
    }

    /// Our own id.
    public let localID: NodeID
    /// The settings.
    public let configuration: RoutingTableConfiguration
    var buckets: [Bucket]
    var addresses: [DHTEndpoint.IP: NodeID] = [:]

    /// Creates an empty table.
    public init(localID: NodeID, configuration: RoutingTableConfiguration = .init(), now: NIODeadline) {
        self.localID = localID
        self.configuration = configuration
        self.buckets = [Bucket(lastChanged: now)]
    }

    /// Number of buckets.
    public var bucketCount: Int { buckets.count }
    /// Number of live (non-replacement) nodes.
    public var count: Int { buckets.reduce(0) { $0 + $1.live.count } }
    /// Number of replacement candidates.
    public var replacementCount: Int { buckets.reduce(0) { $0 + $1.replacements.count } }
    /// Every live node.
    public var nodes: [RoutingNode] { buckets.flatMap(\.live) }

    /// How many live nodes bucket `index` may hold.
    public func capacity(ofBucket index: Int) -> Int {
        guard configuration.largerTopBuckets, index < 4 else { return configuration.bucketSize }
        return configuration.bucketSize * [16, 8, 4, 2][index]
    }

    func bucketIndex(for id: NodeID) -> Int { min(localID.commonPrefixLength(with: id), buckets.count - 1) }

    /// The live entry for `id`, if any.
    public func node(_ id: NodeID) -> RoutingNode? {
        let b = bucketIndex(for: id)
        return buckets[b].live.first { $0.info.id == id }
    }

    /// Whether `node` may enter the table at all (BEP 42 when enforced, not ourselves).
    public func accepts(_ node: DHTNodeInfo) -> Bool {
        if node.id == localID { return false }
        if configuration.enforceSecureIDs && !SecureNodeID.isValid(node.id, for: node.endpoint.ip) { return false }
        if configuration.onePerAddress, let existing = addresses[node.endpoint.ip], existing != node.id { return false }
        return true
    }

    /// Records that we heard from `node`: `responded` when it answered our query (confirmed, and so good),
    /// otherwise it sent us a query. Returns false if the table refused it.
    @discardableResult
    public mutating func heard(from node: DHTNodeInfo, responded: Bool, roundTrip: TimeAmount? = nil, now: NIODeadline)
        -> Bool
    {
        guard accepts(node) else { return false }
        var b = bucketIndex(for: node.id)
        if let i = buckets[b].live.firstIndex(where: { $0.info.id == node.id }) {
            guard buckets[b].live[i].info.endpoint == node.endpoint else { return false }  // id moved: ignore
            buckets[b].live[i].lastSeen = now
            if responded {
                buckets[b].live[i].lastResponse = now
                buckets[b].live[i].failCount = 0
                if let roundTrip { buckets[b].live[i].roundTrip = roundTrip }
                buckets[b].lastChanged = now
            }
            return true
        }
        var entry = RoutingNode(info: node, lastSeen: now, lastResponse: responded ? now : nil)
        entry.roundTrip = roundTrip
        while true {
            if buckets[b].live.count < capacity(ofBucket: b) {
                insertLive(entry, bucket: b, now: now)
                return true
            }
            // Only the bucket covering our own id splits (BEP 5).
            if b == buckets.count - 1 && buckets.count < Self.maximumBuckets {
                split()
                b = bucketIndex(for: node.id)
                continue
            }
            break
        }
        // Full bucket: a bad node gives way to a new one; otherwise the new one waits as a replacement.
        if responded, let bad = buckets[b].live.firstIndex(where: { $0.state(at: now) == .bad }) {
            removeLive(bucket: b, index: bad)
            insertLive(entry, bucket: b, now: now)
            return true
        }
        addReplacement(entry, bucket: b)
        return true
    }

    /// Records a node named in someone's answer (libtorrent's `heard_about`): it waits in the replacement
    /// cache, unconfirmed, until a ping (``nodesToConfirm(limit:)``) shows it exists.
    public mutating func heardAbout(_ node: DHTNodeInfo, now: NIODeadline) {
        guard accepts(node) else { return }
        let b = bucketIndex(for: node.id)
        guard !buckets[b].live.contains(where: { $0.info.id == node.id }),
            !buckets[b].replacements.contains(where: { $0.info.id == node.id })
        else { return }
        addReplacement(RoutingNode(info: node, lastSeen: now), bucket: b)
    }

    /// Up to `limit` unconfirmed replacement candidates in buckets with room (or that can split), marked as
    /// pinged: confirming them is how the table grows beyond the nodes that answered or queried us.
    public mutating func nodesToConfirm(limit: Int) -> [DHTNodeInfo] {
        var found: [DHTNodeInfo] = []
        for b in buckets.indices.reversed() where found.count < limit {
            guard buckets[b].live.count < capacity(ofBucket: b) || b == buckets.count - 1 else { continue }
            for r in buckets[b].replacements.indices where found.count < limit {
                guard buckets[b].replacements[r].lastResponse == nil, !buckets[b].replacements[r].confirmationSent
                else { continue }
                buckets[b].replacements[r].confirmationSent = true
                found.append(buckets[b].replacements[r].info)
            }
        }
        return found
    }

    mutating func insertLive(_ entry: RoutingNode, bucket b: Int, now: NIODeadline) {
        buckets[b].replacements.removeAll { $0.info.id == entry.info.id }
        buckets[b].live.append(entry)
        buckets[b].lastChanged = now
        addresses[entry.info.endpoint.ip] = entry.info.id
    }

    mutating func removeLive(bucket b: Int, index: Int) {
        let removed = buckets[b].live.remove(at: index)
        addresses[removed.info.endpoint.ip] = nil
    }

    mutating func addReplacement(_ entry: RoutingNode, bucket b: Int) {
        guard configuration.replacementCacheSize > 0 else { return }
        if let i = buckets[b].replacements.firstIndex(where: { $0.info.id == entry.info.id }) {
            buckets[b].replacements[i] = entry
            return
        }
        if configuration.onePerAddress,
            buckets[b].replacements.contains(where: { $0.info.endpoint.ip == entry.info.endpoint.ip })
        {
            return
        }
        if buckets[b].replacements.count >= configuration.replacementCacheSize {
            // Keep confirmed candidates over unconfirmed ones, newer over older.
            let victim =
                buckets[b].replacements.firstIndex { $0.lastResponse == nil } ?? buckets[b].replacements.startIndex
            buckets[b].replacements.remove(at: victim)
        }
        buckets[b].replacements.append(entry)
    }

    mutating func split() {
        let last = buckets.count - 1
        let old = buckets[last]
        buckets[last].live = []
        buckets[last].replacements = []
        buckets.append(Bucket(lastChanged: old.lastChanged))
        for entry in old.live {
            let b = bucketIndex(for: entry.info.id)
            if buckets[b].live.count < capacity(ofBucket: b) {
                buckets[b].live.append(entry)
            } else {
                addresses[entry.info.endpoint.ip] = nil
                addReplacement(entry, bucket: b)
            }
        }
        for entry in old.replacements { addReplacement(entry, bucket: bucketIndex(for: entry.info.id)) }
    }

    /// Records that `id` did not answer a query. A bad node is replaced by the best replacement candidate;
    /// a node failing ``dropFailCount`` times is dropped.
    public mutating func failed(_ id: NodeID, now: NIODeadline) {
        let b = bucketIndex(for: id)
        guard let i = buckets[b].live.firstIndex(where: { $0.info.id == id }) else {
            buckets[b].replacements.removeAll { $0.info.id == id }
            return
        }
        buckets[b].live[i].failCount += 1
        let entry = buckets[b].live[i]
        guard entry.state(at: now) == .bad else { return }
        let replacement =
            buckets[b].replacements.lastIndex { $0.lastResponse != nil } ?? buckets[b].replacements.indices.last
        if let r = replacement, accepts(buckets[b].replacements[r].info) {
            removeLive(bucket: b, index: i)
            let candidate = buckets[b].replacements.remove(at: r)
            insertLive(candidate, bucket: b, now: now)
        } else if entry.failCount >= Self.dropFailCount {
            removeLive(bucket: b, index: i)
        }
    }

    /// Up to `count` live nodes closest to `target`, closest first, leaving out bad ones and any listed in
    /// `excluding`.
    public func closest(to target: NodeID, count: Int, now: NIODeadline, excluding: NodeID? = nil) -> [DHTNodeInfo] {
        var result: [(distance: NodeID, info: DHTNodeInfo)] = []
        result.reserveCapacity(count + 1)
        for bucket in buckets {
            for entry in bucket.live where entry.info.id != excluding && entry.failCount < Self.badFailCount {
                let distance = entry.info.id.distance(to: target)
                if result.count == count, let last = result.last, !(distance < last.distance) { continue }
                let position = result.firstIndex { distance < $0.distance } ?? result.endIndex
                result.insert((distance, entry.info), at: position)
                if result.count > count { result.removeLast() }
            }
        }
        return result.map(\.info)
    }

    /// Ids to look up to refresh buckets that have not changed for ``refreshInterval``: one random id in
    /// each stale bucket's range (BEP 5 "refresh"). Marks those buckets as refreshed.
    public mutating func refreshTargets(now: NIODeadline, using generator: inout some RandomNumberGenerator)
        -> [NodeID]
    {
        var targets: [NodeID] = []
        for b in buckets.indices where now - buckets[b].lastChanged >= Self.refreshInterval {
            buckets[b].lastChanged = now
            let random = NodeID.random(using: &generator)
            if b == buckets.count - 1 {
                targets.append(localID.keepingPrefix(b, rest: random))
            } else {
                targets.append(localID.flippingBit(b).keepingPrefix(b + 1, rest: random))
            }
        }
        return targets
    }

    /// A random id in the range of the bucket that `id` falls in (our own neighbourhood for the last bucket).
    public func refreshTarget(forBucketOf id: NodeID, using generator: inout some RandomNumberGenerator) -> NodeID {
        let b = bucketIndex(for: id)
        let random = NodeID.random(using: &generator)
        if b == buckets.count - 1 { return localID.keepingPrefix(b, rest: random) }
        return localID.flippingBit(b).keepingPrefix(b + 1, rest: random)
    }

    /// Live nodes not confirmed for 15 minutes (or never), to be pinged so bad ones get replaced; at most
    /// `limit`, oldest first.
    public func questionableNodes(now: NIODeadline, limit: Int) -> [DHTNodeInfo] {
        var found: [RoutingNode] = []
        for bucket in buckets {
            for entry in bucket.live where entry.state(at: now) == .questionable { found.append(entry) }
        }
        found.sort { ($0.lastResponse ?? $0.lastSeen) < ($1.lastResponse ?? $1.lastSeen) }
        return found.prefix(limit).map(\.info)
    }
}
