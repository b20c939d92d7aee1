import NIOCore

/// Identifies one lookup of a ``DHTNode``.
public struct DHTLookupID: Hashable, Sendable, CustomStringConvertible {
    /// The number, unique within a node.
    public let rawValue: UInt64
    public var description: String { "lookup#\(rawValue)" }
}

/// What a lookup looks for.
public enum DHTLookupKind: Hashable, Sendable {
    /// `find_node`: the k nodes closest to the target (bootstrap and bucket refresh use it).
    case findNode
    /// `get_peers`: peers of an info-hash; with `announce`, `announce_peer` to the closest nodes afterwards
    /// (port nil announces with `implied_port`).
    case getPeers(announce: DHTAnnounce?)
    /// `get` (BEP 44): the item at the target; `salt` is needed to check a mutable item's target.
    case getItem(salt: [UInt8])
    /// `get` then `put` (BEP 44): store the item at the nodes closest to its target.
    case putItem(DHTItem)
    /// `get_peers` with `scrape` = 1 (BEP 33): the seeds' and downloaders' bloom filters of the nodes
    /// closest to the info-hash, merged.
    case scrape
    /// `sample_infohashes` (BEP 51) to the nodes closest to the target: the info-hashes they store.
    case sampleInfohashes
}

/// The merged BEP 33 bloom filters of a scrape lookup.
public struct DHTScrape: Hashable, Sendable {
    /// Addresses of seeds (`BFsd` of every answer, ORed).
    public var seeds = ScrapeBloomFilter()
    /// Addresses of downloaders (`BFpe` of every answer, ORed).
    public var downloaders = ScrapeBloomFilter()
    /// How many nodes answered with filters.
    public var answers = 0

    /// Creates an empty scrape.
    public init() {}

    /// BEP 33's estimate of the number of seeds.
    public var estimatedSeeds: Int { answers == 0 ? 0 : Int(seeds.estimatedCount.rounded(.down)) }
    /// BEP 33's estimate of the number of downloaders.
    public var estimatedDownloaders: Int { answers == 0 ? 0 : Int(downloaders.estimatedCount.rounded(.down)) }
}

/// An announcement made at the end of a `get_peers` lookup.
public struct DHTAnnounce: Hashable, Sendable {
    /// The TCP port peers should connect to; nil sends `implied_port` = 1 (the UDP source port).
    public var port: UInt16?
    /// BEP 33: we are a seed.
    public var seed: Bool

    /// Creates an announcement.
    public init(port: UInt16?, seed: Bool = false) {
        self.port = port
        self.seed = seed
    }
}

/// The outcome of a lookup, with the figures the simulation reports.
public struct DHTLookupResult: Hashable, Sendable {
    /// Which lookup.
    public var id: DHTLookupID
    /// Its target (node id or info-hash).
    public var target: NodeID
    /// What it looked for.
    public var kind: DHTLookupKind
    /// Peers found (`get_peers`), without duplicates.
    public var peers: [DHTEndpoint]
    /// The closest nodes that answered, closest first (at most k).
    public var closest: [DHTNodeInfo]
    /// Queries sent.
    public var queriesSent: Int
    /// Answers received.
    public var responses: Int
    /// Queries that timed out.
    public var timeouts: Int
    /// Hops: the longest chain of answers, each naming the next node queried (1 for nodes from our table).
    public var rounds: Int
    /// How long the lookup ran.
    public var duration: TimeAmount
    /// How long until the first peers arrived, if any did.
    public var firstPeersAfter: TimeAmount?
    /// Nodes sent an `announce_peer` (or a BEP 44 `put`).
    public var announcedTo: Int
    /// BEP 44: the item found (the highest sequence number for a mutable item), verified.
    public var item: DHTItem?
    /// True if the lookup ended at ``DHTConfiguration/lookupTimeout`` rather than by converging.
    public var timedOut: Bool
    /// BEP 33: the merged bloom filters of a ``DHTLookupKind/scrape`` lookup.
    public var scrape: DHTScrape?
    /// BEP 51: the distinct info-hashes sampled by a ``DHTLookupKind/sampleInfohashes`` lookup.
    public var samples: [NodeID] = []
}

/// The state of one iterative lookup (BEP 5 / Kademlia): candidates sorted by distance to the target,
/// α queries in flight, a slow query replaced by another after a short wait, and convergence once the k
/// closest nodes seen have all answered.
struct Lookup: Sendable {
    enum CandidateState: Hashable, Sendable {
        case fresh
        case inFlight(slow: Bool)
        case responded
        case failed
    }

    struct Candidate: Sendable {
        var info: DHTNodeInfo
        var distance: NodeID
        var state: CandidateState
        var depth: Int
        var token: [UInt8]?
    }

    /// Most candidates kept: beyond the closest few dozen, farther nodes never get queried.
    static let maximumCandidates = 64
    /// Most peers collected per lookup.
    static let maximumPeers = 2000
    /// Most queries one lookup may send.
    static let maximumQueries = 256

    let id: DHTLookupID
    let target: NodeID
    let kind: DHTLookupKind
    let started: NIODeadline
    let bucketSize: Int
    let alpha: Int
    var aggressive = false
    var candidates: [Candidate] = []
    var seen: Set<DHTEndpoint> = []
    var peers: [DHTEndpoint] = []
    var peerSet: Set<DHTEndpoint> = []
    var firstPeersAt: NIODeadline?
    var item: DHTItem?
    var scrape: DHTScrape?
    var samples: [NodeID] = []
    var sampleSet: Set<NodeID> = []
    var queriesSent = 0
    var responses = 0
    var timeouts = 0
    var rounds = 0
    /// Bootstrap endpoints of unknown id still to be queried.
    var seeds: [DHTEndpoint] = []
    var seedsInFlight = 0

    init(id: DHTLookupID, target: NodeID, kind: DHTLookupKind, started: NIODeadline, bucketSize: Int, alpha: Int) {
        self.id = id
        self.target = target
        self.kind = kind
        self.started = started
        self.bucketSize = bucketSize
        self.alpha = alpha
    }

    /// Adds a node to query (`depth` is the hop at which it was learned).
    mutating func add(_ info: DHTNodeInfo, depth: Int, localID: NodeID) {
        guard info.id != localID, !seen.contains(info.endpoint) else { return }
        let distance = info.id.distance(to: target)
        if candidates.count >= Self.maximumCandidates {
            // The farthest candidate not awaiting an answer makes room for a closer one. (Only a fresh one
            // used to: once the farthest had been queried, as the first hops of a long lookup are, every
            // closer node named afterwards was dropped and the lookup could miss the nodes it looked for.)
            // A queried node stays in `seen`, so it is not queried twice.
            guard
                let victim = candidates.lastIndex(where: {
                    if case .inFlight = $0.state { return false } else { return true }
                }), distance < candidates[victim].distance
            else { return }
            if candidates[victim].state == .fresh { seen.remove(candidates[victim].info.endpoint) }
            candidates.remove(at: victim)
        }
        seen.insert(info.endpoint)
        var low = 0
        var high = candidates.count
        while low < high {
            let mid = (low + high) / 2
            if candidates[mid].distance < distance { low = mid + 1 } else { high = mid }
        }
        candidates.insert(Candidate(info: info, distance: distance, state: .fresh, depth: depth), at: low)
    }

    func index(of endpoint: DHTEndpoint) -> Int? { candidates.firstIndex { $0.info.endpoint == endpoint } }

    /// Candidates to query now: the closest fresh ones among the k closest still alive, while fewer than α
    /// queries are in flight and not yet slow.
    mutating func nextQueries() -> [Int] {
        guard queriesSent < Self.maximumQueries else { return [] }
        if aggressive { return nextQueriesAggressively() }
        var active = seedsInFlight
        for candidate in candidates { if case .inFlight(slow: false) = candidate.state { active += 1 } }
        var picked: [Int] = []
        var alive = 0
        for index in candidates.indices {
            guard active < alpha, alive < bucketSize else { break }
            switch candidates[index].state {
            // A failed node, or one silent for a second, no longer holds a place among the k closest.
            case .failed, .inFlight(slow: true): continue
            case .fresh:
                candidates[index].state = .inFlight(slow: false)
                picked.append(index)
                active += 1
            default: break
            }
            alive += 1
        }
        queriesSent += picked.count
        return picked
    }

    /// libtorrent's aggressive variant: walking from the closest, α queries in flight among the candidates
    /// ahead of the k-th node that answered; queries to nodes pushed behind it by closer answers no longer
    /// count.
    mutating func nextQueriesAggressively() -> [Int] {
        var active = seedsInFlight
        var picked: [Int] = []
        var answered = 0
        for index in candidates.indices {
            guard answered < bucketSize, active < alpha else { break }
            switch candidates[index].state {
            case .failed, .inFlight(slow: true): continue
            case .responded: answered += 1
            case .inFlight(slow: false): active += 1
            case .fresh:
                candidates[index].state = .inFlight(slow: false)
                picked.append(index)
                active += 1
            }
        }
        queriesSent += picked.count
        return picked
    }

    /// True once the k closest live candidates have all answered, or nothing is left to query or awaited
    /// (slow queries aside).
    var isConverged: Bool {
        if seedsInFlight > 0 || !seeds.isEmpty { return false }
        var alive = 0
        for candidate in candidates {
            switch candidate.state {
            // A node silent for a second has been replaced by another query; it does not hold the lookup
            // open until its timeout (its late answer is still recorded by the routing table).
            case .failed, .inFlight(slow: true): continue
            case .responded: alive += 1
            case .fresh: if queriesSent >= Self.maximumQueries { continue } else { return false }
            case .inFlight(slow: false): return false
            }
            if alive >= bucketSize { return true }
        }
        return true
    }

    /// Keeps a received BEP 44 item if it checks out against the target (and is newer than the one held).
    mutating func offer(_ received: DHTItem, salt: [UInt8]) {
        var candidate = received
        if var signed = received.signed {
            signed.salt = salt
            guard let verified = DHTItem(value: received.value, signed: signed) else { return }
            candidate = verified
        }
        guard candidate.target == target else { return }
        if let held = item?.signed, let new = candidate.signed, new.sequence <= held.sequence { return }
        item = candidate
    }

    /// Most info-hashes a sample lookup collects.
    static let maximumSamples = 4096

    mutating func addSamples(_ received: [NodeID]) {
        for hash in received where samples.count < Self.maximumSamples && sampleSet.insert(hash).inserted {
            samples.append(hash)
        }
    }

    mutating func addScrape(_ response: KRPCResponse) {
        guard response.seedsFilter != nil || response.downloadersFilter != nil else { return }
        var merged = scrape ?? DHTScrape()
        if let filter = response.seedsFilter { merged.seeds.formUnion(filter) }
        if let filter = response.downloadersFilter { merged.downloaders.formUnion(filter) }
        merged.answers += 1
        scrape = merged
    }

    /// Adds the peers of an answer; returns those not seen before.
    mutating func addPeers(_ values: [DHTEndpoint], now: NIODeadline) -> [DHTEndpoint] {
        var added: [DHTEndpoint] = []
        for value in values where peers.count < Self.maximumPeers && !peerSet.contains(value) {
            peerSet.insert(value)
            peers.append(value)
            added.append(value)
            if firstPeersAt == nil { firstPeersAt = now }
        }
        return added
    }

    func closestResponded(_ count: Int) -> [Candidate] {
        Array(candidates.lazy.filter { $0.state == .responded }.prefix(count))
    }

    func result(now: NIODeadline, announcedTo: Int, timedOut: Bool) -> DHTLookupResult {
        DHTLookupResult(
            id: id, target: target, kind: kind, peers: peers, closest: closestResponded(bucketSize).map(\.info),
            queriesSent: queriesSent, responses: responses, timeouts: timeouts, rounds: rounds,
            duration: now - started, firstPeersAfter: firstPeersAt.map { $0 - started }, announcedTo: announcedTo,
            item: item, timedOut: timedOut, scrape: scrape, samples: samples)
    }
}
