import NIOCore

/// A DHT node (BEP 5) as a pure state machine: datagrams and the current time in, datagrams to send and
/// finished lookups out. It owns no socket, clock or timer; a driver (a UDP channel, or the in-process
/// ``DHTSimulation``) feeds it and calls ``tick(now:)`` by ``nextDeadline``.
///
/// It serves `ping`, `find_node`, `get_peers`, `announce_peer` and `sample_infohashes` (BEP 51), keeps a
/// routing table and a peer store, and runs iterative lookups.
public struct DHTNode: Sendable {
    enum Purpose: Sendable {
        case lookup(DHTLookupID, seed: Bool)
        case ping(NodeID?)
        case announce
    }

    struct Outstanding: Sendable {
        var endpoint: DHTEndpoint
        var sentAt: NIODeadline
        var purpose: Purpose
        var slowSignalled: Bool
        /// The node we expect to answer, when we know its id.
        var nodeID: NodeID?
    }

    /// The settings.
    public let configuration: DHTConfiguration
    /// The routing table.
    public private(set) var routingTable: RoutingTable
    /// Peers announced to us.
    public private(set) var peerStore: PeerStore
    var tokens: TokenIssuer
    var rateLimiter: RateLimiter
    var random: DHTRandom
    var outstanding: [UInt32: Outstanding] = [:]
    var nextTransaction: UInt32
    var lookups: [DHTLookupID: Lookup] = [:]
    var nextLookup: UInt64 = 1
    var pinging: Set<NodeID> = []
    /// BEP 44 items stored here.
    public private(set) var itemStore = ItemStore()
    var nextMaintenance: NIODeadline
    var nextConfirmation: NIODeadline
    /// Counters for the figures a driver reports.
    public private(set) var statistics = Statistics()

    /// Message counters.
    public struct Statistics: Hashable, Sendable {
        /// Datagrams received.
        public var received = 0
        /// Datagrams that failed to decode.
        public var malformed = 0
        /// Queries dropped by the per-address rate limit.
        public var rateLimited = 0
        /// Queries answered.
        public var queriesServed = 0
        /// Queries sent.
        public var queriesSent = 0
    }

    /// Our node id.
    public var localID: NodeID { routingTable.localID }

    /// Creates a node. With `state`, its id and nodes come from a saved ``DHTState`` (the nodes are pinged
    /// when `bootstrap(from:now:)` is called).
    public init(configuration: DHTConfiguration, state: DHTState? = nil, now: NIODeadline) {
        self.configuration = configuration
        var random = DHTRandom(seed: configuration.randomSeed)
        let id: NodeID
        if let given = configuration.localID ?? state?.localID {
            id = given
        } else if let external = configuration.externalAddress {
            id = SecureNodeID.generate(for: external, using: &random)
        } else {
            id = NodeID.random(using: &random)
        }
        routingTable = RoutingTable(localID: id, configuration: configuration.routingTable, now: now)
        peerStore = PeerStore(limits: configuration.peerStore)
        tokens = TokenIssuer(now: now, using: &random)
        rateLimiter = RateLimiter(
            ratePerSecond: configuration.queriesPerSecondPerAddress,
            burst: configuration.queriesPerSecondPerAddress * 2)
        nextTransaction = UInt32(truncatingIfNeeded: random.next())
        nextMaintenance = now + configuration.maintenanceInterval
        nextConfirmation = now + configuration.confirmationInterval
        self.random = random
        if let state { savedNodes = state.nodes }
    }

    var savedNodes: [DHTNodeInfo] = []
    /// Bootstrap routers: used to join, never kept in the routing table.
    var routers: Set<DHTEndpoint> = []

    /// The state to save for a fast restart.
    public var state: DHTState { DHTState(routingTable) }

    /// Number of lookups running.
    public var activeLookupCount: Int { lookups.count }

    /// Number of our queries awaiting an answer.
    public var outstandingQueryCount: Int { outstanding.count }

    // MARK: Lookups

    /// Joins the network: a `find_node` lookup of our own id through `endpoints` (known nodes, whose ids we
    /// need not know), `routers` and any nodes of a loaded state.
    ///
    /// Routers are used to bootstrap only: they never enter the routing table, whether they answer, query us
    /// or are named in an answer (as libtorrent treats its `dht_bootstrap_nodes`), so a router that is asked
    /// by every joining node is not handed out by us as a lookup hop.
    public mutating func bootstrap(
        from endpoints: [DHTEndpoint], routers: [DHTEndpoint] = [], now: NIODeadline
    ) -> (DHTLookupID, [DHTAction]) {
        let saved = savedNodes
        savedNodes = []
        for router in routers.prefix(Self.maximumRouters) { self.routers.insert(router) }
        return startLookup(target: localID, kind: .findNode, seeds: endpoints + routers, extra: saved, now: now)
    }

    /// Most routers remembered (each one is only an address).
    static let maximumRouters = 64

    /// Starts a BEP 33 scrape of `infoHash`: `get_peers` with `scrape` = 1 to the closest nodes, whose
    /// bloom filters arrive merged in the result's ``DHTLookupResult/scrape``.
    public mutating func scrape(_ infoHash: NodeID, now: NIODeadline) -> (DHTLookupID, [DHTAction]) {
        startLookup(target: infoHash, kind: .scrape, seeds: [], extra: [], now: now)
    }

    /// Starts a BEP 51 lookup: `sample_infohashes` to the nodes closest to `target`; the info-hashes they
    /// sample arrive in the result's ``DHTLookupResult/samples``.
    public mutating func sampleInfohashes(_ target: NodeID, now: NIODeadline) -> (DHTLookupID, [DHTAction]) {
        startLookup(target: target, kind: .sampleInfohashes, seeds: [], extra: [], now: now)
    }

    /// Starts a `find_node` lookup of `target`.
    public mutating func findNode(_ target: NodeID, now: NIODeadline) -> (DHTLookupID, [DHTAction]) {
        startLookup(target: target, kind: .findNode, seeds: [], extra: [], now: now)
    }

    /// Starts a `get_peers` lookup of `infoHash`, announcing afterwards when `announce` is given.
    public mutating func getPeers(_ infoHash: NodeID, announce: DHTAnnounce? = nil, now: NIODeadline) -> (
        DHTLookupID, [DHTAction]
    ) {
        startLookup(target: infoHash, kind: .getPeers(announce: announce), seeds: [], extra: [], now: now)
    }

    /// Starts a BEP 44 `get` of the item at `target` (`salt` as used when it was put, for mutable items).
    public mutating func getItem(_ target: NodeID, salt: [UInt8] = [], now: NIODeadline) -> (DHTLookupID, [DHTAction]) {
        startLookup(target: target, kind: .getItem(salt: salt), seeds: [], extra: [], now: now)
    }

    /// Stores a BEP 44 item at the nodes closest to its target (a `get` for tokens, then `put`).
    public mutating func putItem(_ item: DHTItem, now: NIODeadline) -> (DHTLookupID, [DHTAction]) {
        startLookup(target: item.target, kind: .putItem(item), seeds: [], extra: [], now: now)
    }

    mutating func startLookup(
        target: NodeID, kind: DHTLookupKind, seeds: [DHTEndpoint], extra: [DHTNodeInfo], now: NIODeadline
    ) -> (DHTLookupID, [DHTAction]) {
        let id = DHTLookupID(rawValue: nextLookup)
        nextLookup += 1
        var lookup = Lookup(
            id: id, target: target, kind: kind, started: now, bucketSize: configuration.routingTable.bucketSize,
            alpha: configuration.alpha)
        lookup.aggressive = configuration.aggressiveLookups
        guard lookups.count < configuration.maximumLookups else {
            return (id, [.lookupCompleted(lookup.result(now: now, announcedTo: 0, timedOut: false))])
        }
        for node in routingTable.closest(to: target, count: Lookup.maximumCandidates, now: now) {
            lookup.add(node, depth: 1, localID: localID)
        }
        for node in extra { lookup.add(node, depth: 1, localID: localID) }
        var unique: Set<DHTEndpoint> = lookup.seen
        // With an empty table, the routers are the only way in (libtorrent adds its router entries to a
        // lookup that has no other start), so a node that joined a network of one router still finds it.
        let start = lookup.candidates.isEmpty && seeds.isEmpty ? routers.sorted() : seeds
        lookup.seeds = Array(start.filter { unique.insert($0).inserted }.prefix(16).reversed())
        lookups[id] = lookup
        return (id, advance(id, now: now))
    }

    func queryFor(_ kind: DHTLookupKind, target: NodeID) -> KRPCQuery {
        switch kind {
        case .findNode: .findNode(target: target, want: [])
        case .getPeers: .getPeers(infoHash: target, want: [], noSeed: false)
        case .getItem, .putItem: .get(target: target, sequence: nil)
        case .scrape: .getPeers(infoHash: target, want: [], noSeed: false, scrape: true)
        case .sampleInfohashes: .sampleInfohashes(target: target, want: [])
        }
    }

    /// Sends what a lookup may send now, or finishes it.
    mutating func advance(_ id: DHTLookupID, now: NIODeadline) -> [DHTAction] {
        guard var lookup = lookups[id] else { return [] }
        var actions: [DHTAction] = []
        let query = queryFor(lookup.kind, target: lookup.target)
        while let seed = lookup.seeds.popLast() {
            guard let datagram = sendQuery(query, to: seed, purpose: .lookup(id, seed: true), now: now) else { break }
            lookup.seedsInFlight += 1
            lookup.queriesSent += 1
            actions.append(.send(datagram, to: seed))
        }
        for index in lookup.nextQueries() {
            let endpoint = lookup.candidates[index].info.endpoint
            if let datagram = sendQuery(
                query, to: endpoint, expecting: lookup.candidates[index].info.id, purpose: .lookup(id, seed: false),
                now: now)
            {
                actions.append(.send(datagram, to: endpoint))
            } else {
                lookup.candidates[index].state = .failed
            }
        }
        if lookup.isConverged {
            lookups[id] = nil
            actions += finish(lookup, timedOut: false, now: now)
        } else {
            lookups[id] = lookup
        }
        return actions
    }

    mutating func finish(_ lookup: Lookup, timedOut: Bool, now: NIODeadline) -> [DHTAction] {
        var actions: [DHTAction] = []
        var announced = 0
        if case .getPeers(let announce?) = lookup.kind {
            for candidate in lookup.closestResponded(configuration.routingTable.bucketSize) {
                guard let token = candidate.token else { continue }
                let query = KRPCQuery.announcePeer(
                    infoHash: lookup.target, port: announce.port ?? 0, token: token,
                    impliedPort: announce.port == nil, seed: announce.seed)
                if let datagram = sendQuery(query, to: candidate.info.endpoint, purpose: .announce, now: now) {
                    actions.append(.send(datagram, to: candidate.info.endpoint))
                    announced += 1
                }
            }
        }
        if case .putItem(let item) = lookup.kind {
            for candidate in lookup.closestResponded(configuration.routingTable.bucketSize) {
                guard let token = candidate.token else { continue }
                let query = KRPCQuery.put(token: token, item: item, cas: nil)
                if let datagram = sendQuery(query, to: candidate.info.endpoint, purpose: .announce, now: now) {
                    actions.append(.send(datagram, to: candidate.info.endpoint))
                    announced += 1
                }
            }
        }
        actions.append(.lookupCompleted(lookup.result(now: now, announcedTo: announced, timedOut: timedOut)))
        return actions
    }

    /// Encodes a query with a fresh transaction id and remembers it; nil if too many are outstanding.
    mutating func sendQuery(
        _ query: KRPCQuery, to endpoint: DHTEndpoint, expecting nodeID: NodeID? = nil, purpose: Purpose,
        now: NIODeadline
    ) -> [UInt8]? {
        guard outstanding.count < configuration.maximumOutstandingQueries else { return nil }
        var tid = nextTransaction
        while outstanding[tid] != nil { tid &+= 1 }
        nextTransaction = tid &+ 1
        outstanding[tid] = Outstanding(
            endpoint: endpoint, sentAt: now, purpose: purpose, slowSignalled: false, nodeID: nodeID)
        statistics.queriesSent += 1
        let message = KRPCQueryMessage(
            transactionID: [UInt8(tid >> 24), UInt8(tid >> 16 & 0xff), UInt8(tid >> 8 & 0xff), UInt8(tid & 0xff)],
            senderID: localID, query: query, readOnly: configuration.readOnly, version: configuration.version)
        return KRPCCodec.encode(.query(message))
    }

    // MARK: Receiving

    /// Handles one datagram from `source`.
    public mutating func receive(_ datagram: [UInt8], from source: DHTEndpoint, now: NIODeadline) -> [DHTAction] {
        statistics.received += 1
        let message: KRPCMessage
        do {
            message = try KRPCCodec.decode(datagram)
        } catch {
            statistics.malformed += 1
            return refuseMalformed(datagram, error: error, from: source, now: now)
        }
        switch message {
        case .query(let query):
            return serve(query, from: source, now: now)
        case .response(let response):
            return handleAnswer(
                transactionID: response.transactionID, response: response.response, from: source, now: now)
        case .error(let error):
            return handleAnswer(transactionID: error.transactionID, response: nil, from: source, now: now)
        }
    }

    mutating func handleAnswer(
        transactionID: [UInt8], response: KRPCResponse?, from source: DHTEndpoint, now: NIODeadline
    )
        -> [DHTAction]
    {
        guard transactionID.count == 4 else { return [] }
        let tid = transactionID.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard let entry = outstanding[tid], entry.endpoint == source else { return [] }
        outstanding[tid] = nil
        var responder: DHTNodeInfo?
        if let response {
            responder = DHTNodeInfo(id: response.senderID, endpoint: source)
            if !routers.contains(source) {
                routingTable.heard(from: responder!, responded: true, roundTrip: now - entry.sentAt, now: now)
            }
        }
        switch entry.purpose {
        case .announce:
            return []
        case .ping(let id):
            if let id { pinging.remove(id) }
            // A confirmation is a `find_node` of our own id: its answer also names nodes near us, which
            // keeps our neighbourhood (the deepest buckets) filling up, as libtorrent's refreshes do.
            for node in (configuration.ipv6 ? response?.nodes6 : response?.nodes) ?? []
            where !routers.contains(node.endpoint) {
                routingTable.heardAbout(node, now: now)
            }
            return []
        case .lookup(let lookupID, let seed):
            guard var lookup = lookups[lookupID] else { return [] }
            var depth = 1
            var found: [DHTAction] = []
            if seed {
                lookup.seedsInFlight -= 1
                if let responder {
                    // A bootstrap node of unknown id answered: it is now a candidate like any other.
                    lookup.add(responder, depth: 1, localID: localID)
                    if let index = lookup.index(of: source) {
                        lookup.candidates[index].state = .responded
                        lookup.candidates[index].token = response?.token
                    }
                }
            } else if let index = lookup.index(of: source) {
                depth = lookup.candidates[index].depth
                if let response, response.senderID == lookup.candidates[index].info.id {
                    lookup.candidates[index].state = .responded
                    lookup.candidates[index].token = response.token
                } else {
                    // An error, or a different node now answers at that endpoint: not a usable hop.
                    lookup.candidates[index].state = .failed
                }
            }
            if let response {
                lookup.responses += 1
                if !seed { lookup.rounds = max(lookup.rounds, depth) }
                let family = configuration.ipv6 ? response.nodes6 : response.nodes
                for node in family.prefix(KRPCCodec.maximumNodes) {
                    if configuration.routingTable.enforceSecureIDs
                        && !SecureNodeID.isValid(node.id, for: node.endpoint.ip)
                    {
                        continue
                    }
                    lookup.add(node, depth: seed ? 1 : depth + 1, localID: localID)
                    if !routers.contains(node.endpoint) { routingTable.heardAbout(node, now: now) }
                }
                if case .getPeers = lookup.kind {
                    let added = lookup.addPeers(response.values, now: now)
                    if !added.isEmpty { found = [.peersFound(lookupID, added)] }
                }
                if case .scrape = lookup.kind { lookup.addScrape(response) }
                if case .sampleInfohashes = lookup.kind { lookup.addSamples(response.samples) }
                if case .getItem(let salt) = lookup.kind, let item = response.item { lookup.offer(item, salt: salt) }
            }
            lookups[lookupID] = lookup
            return found + advance(lookupID, now: now)
        }
    }

    // MARK: Serving

    /// BEP 5: a query we cannot parse (a missing or mistyped argument) is answered with error 203, as
    /// libtorrent does ("missing 'target' key"), so the querier learns why rather than timing out. Only
    /// queries get it, under the same per-address rate limit as answers, and the reply is short.
    mutating func refuseMalformed(
        _ datagram: [UInt8], error: DHTError, from source: DHTEndpoint, now: NIODeadline
    ) -> [DHTAction] {
        guard !configuration.readOnly, source.ip.isV6 == configuration.ipv6,
            let transactionID = KRPCCodec.queryTransactionID(datagram), rateLimiter.allow(source.ip, now: now)
        else { return [] }
        let message = KRPCErrorMessage(
            transactionID: transactionID, code: KRPCErrorMessage.protocolError,
            message: String(error.reason.prefix(Self.maximumErrorReasonLength)), version: configuration.version)
        return [reply(.error(message), to: source)]
    }

    /// Longest reason sent back in an error 203.
    static let maximumErrorReasonLength = 64

    mutating func serve(_ query: KRPCQueryMessage, from source: DHTEndpoint, now: NIODeadline) -> [DHTAction] {
        // BEP 43: a read-only node answers nothing.
        guard !configuration.readOnly else { return [] }
        guard source.ip.isV6 == configuration.ipv6 else { return [] }
        guard rateLimiter.allow(source.ip, now: now) else {
            statistics.rateLimited += 1
            return []
        }
        statistics.queriesServed += 1
        let sender = DHTNodeInfo(id: query.senderID, endpoint: source)
        if !query.readOnly && !routers.contains(source) {
            routingTable.heard(from: sender, responded: false, now: now)
        }
        var response = KRPCResponse(senderID: localID)
        let k = configuration.routingTable.bucketSize
        switch query.query {
        case .ping:
            break
        case .findNode(let target, let want), .sampleInfohashes(let target, let want):
            if wantsOurFamily(want) { setNodes(&response, routingTable.closest(to: target, count: k, now: now)) }
            if case .sampleInfohashes = query.query {
                // BEP 51: a sample of at most 20 info-hashes, refreshed no more often than `interval` asks.
                var hashes = peerStore.infoHashes
                hashes.shuffle(using: &random)
                response.samples = Array(hashes.prefix(20))
                response.storedCount = peerStore.torrentCount
                response.interval = 21600
            }
        case .getPeers(let infoHash, let want, let noSeed, let scrape):
            response.token = tokens.token(for: source.ip, infoHash: infoHash)
            // BEP 33: a scrape of a torrent we store is answered with its two bloom filters instead of peers
            // (512 bytes, about the size of a full `values` list, so no amplification either).
            if scrape, let filters = peerStore.scrapeFilters(for: infoHash, now: now) {
                response.seedsFilter = filters.seeds
                response.downloadersFilter = filters.downloaders
                break
            }
            let peers = peerStore.peers(for: infoHash, noSeed: noSeed, now: now, using: &random)
            // Peers when we have them, and the k closest nodes as well (libtorrent: "always return nodes as
            // well as peers"; BEP 5 allows either): a lookup that reaches one storing node learns the others.
            // At most 100 peers and 8 nodes, about 1,100 bytes: one datagram within a 1,500-byte MTU.
            if !peers.isEmpty {
                response.values = peers
            }
            if (peers.isEmpty || configuration.nodesWithPeers) && wantsOurFamily(want) {
                setNodes(&response, routingTable.closest(to: infoHash, count: k, now: now))
            }
        case .announcePeer(let infoHash, let port, let token, let impliedPort, let seed):
            guard tokens.isValid(token, for: source.ip, infoHash: infoHash) else {
                return [
                    reply(
                        .error(
                            KRPCErrorMessage(
                                transactionID: query.transactionID, code: KRPCErrorMessage.protocolError,
                                message: "bad token",
                                version: configuration.version)), to: source)
                ]
            }
            let peerPort = impliedPort ? source.port : port
            guard peerPort != 0 else {
                return [
                    reply(
                        .error(
                            KRPCErrorMessage(
                                transactionID: query.transactionID, code: KRPCErrorMessage.protocolError,
                                message: "bad port",
                                version: configuration.version)), to: source)
                ]
            }
            peerStore.announce(
                infoHash, peer: DHTEndpoint(ip: source.ip, port: peerPort), seed: seed, now: now, using: &random)
        case .get(let target, let sequence):
            response.token = tokens.token(for: source.ip, infoHash: target)
            setNodes(&response, routingTable.closest(to: target, count: k, now: now))
            if let stored = itemStore.item(target, now: now) {
                if let signed = stored.signed, let sequence, signed.sequence <= sequence {
                    response.sequence = signed.sequence  // BEP 44: nothing newer than what the requester has
                } else {
                    response.item = stored
                }
            }
        case .put(let token, let item, let cas):
            if let code = checkPut(token: token, item: item, cas: cas, from: source, now: now) {
                return [
                    reply(
                        .error(
                            KRPCErrorMessage(
                                transactionID: query.transactionID, code: code, message: "put refused",
                                version: configuration.version)), to: source)
                ]
            }
            itemStore.put(item, now: now)
        case .unknown:
            return [
                reply(
                    .error(
                        KRPCErrorMessage(
                            transactionID: query.transactionID, code: KRPCErrorMessage.methodUnknown,
                            message: "method unknown",
                            version: configuration.version)), to: source)
            ]
        }
        let message = KRPCResponseMessage(
            transactionID: query.transactionID, response: response, requesterAddress: source,
            version: configuration.version)
        return [reply(.response(message), to: source)]
    }

    /// BEP 44's checks of a `put`, in its order; the error code to answer with, or nil to store.
    func checkPut(token: [UInt8], item: DHTItem, cas: Int64?, from source: DHTEndpoint, now: NIODeadline) -> Int? {
        guard tokens.isValid(token, for: source.ip, infoHash: item.target) else {
            return KRPCErrorMessage.protocolError
        }
        guard item.value.count <= DHTItem.maximumValueSize else { return KRPCErrorMessage.valueTooBig }
        guard let signed = item.signed else { return nil }
        guard signed.salt.count <= DHTItem.maximumSaltSize else { return KRPCErrorMessage.saltTooBig }
        guard DHTItem(value: item.value, signed: signed) != nil else { return KRPCErrorMessage.invalidSignature }
        if let existing = itemStore.item(item.target, now: now)?.signed {
            if let cas, cas != existing.sequence { return KRPCErrorMessage.casMismatch }
            if signed.sequence < existing.sequence { return KRPCErrorMessage.sequenceTooOld }
            if signed.sequence == existing.sequence && itemStore.item(item.target, now: now)?.value != item.value {
                return KRPCErrorMessage.sequenceTooOld
            }
        }
        return nil
    }

    func wantsOurFamily(_ want: KRPCWant) -> Bool {
        want.isEmpty || want.contains(configuration.ipv6 ? .ipv6 : .ipv4)
    }

    func setNodes(_ response: inout KRPCResponse, _ nodes: [DHTNodeInfo]) {
        if configuration.ipv6 { response.nodes6 = nodes } else { response.nodes = nodes }
    }

    func reply(_ message: KRPCMessage, to source: DHTEndpoint) -> DHTAction {
        .send(KRPCCodec.encode(message), to: source)
    }

    // MARK: Time

    /// When ``tick(now:)`` must be called next.
    public var nextDeadline: NIODeadline {
        var deadline = min(nextMaintenance, tokens.nextRotation, nextConfirmation)
        for entry in outstanding.values {
            let due =
                entry.slowSignalled
                ? entry.sentAt + configuration.queryTimeout
                : entry.sentAt + configuration.slowQueryAfter
            deadline = min(deadline, due)
        }
        for lookup in lookups.values { deadline = min(deadline, lookup.started + configuration.lookupTimeout) }
        return deadline
    }

    /// Handles the passing of time: slow and timed-out queries, lookup deadlines, token rotation and table
    /// maintenance.
    public mutating func tick(now: NIODeadline) -> [DHTAction] {
        var actions: [DHTAction] = []
        var touched: Set<DHTLookupID> = []
        // Sorted, so that a simulation replays identically whatever the process's hash seed.
        for tid in outstanding.keys.sorted() {
            let entry = outstanding[tid]!
            if now - entry.sentAt >= configuration.queryTimeout {
                outstanding[tid] = nil
                timedOut(entry, touched: &touched, now: now)
            } else if !entry.slowSignalled && now - entry.sentAt >= configuration.slowQueryAfter {
                outstanding[tid]!.slowSignalled = true
                if case .lookup(let id, let seed) = entry.purpose, !seed, var lookup = lookups[id],
                    let index = lookup.index(of: entry.endpoint),
                    lookup.candidates[index].state == .inFlight(slow: false)
                {
                    lookup.candidates[index].state = .inFlight(slow: true)
                    lookups[id] = lookup
                    touched.insert(id)
                }
            }
        }
        for id in touched.sorted(by: { $0.rawValue < $1.rawValue }) { actions += advance(id, now: now) }
        for id in lookups.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            guard let lookup = lookups[id], now - lookup.started >= configuration.lookupTimeout else { continue }
            lookups[id] = nil
            actions += finish(lookup, timedOut: true, now: now)
        }
        tokens.rotateIfDue(now: now, using: &random)
        if now >= nextConfirmation {
            nextConfirmation = now + configuration.confirmationInterval
            for node in routingTable.nodesToConfirm(limit: configuration.confirmationPings)
            where !pinging.contains(node.id) {
                let target =
                    configuration.confirmationRefreshesBucket
                    ? routingTable.refreshTarget(forBucketOf: node.id, using: &random) : localID
                guard
                    let datagram = sendQuery(
                        .findNode(target: target, want: []), to: node.endpoint, expecting: node.id,
                        purpose: .ping(node.id), now: now)
                else { break }
                pinging.insert(node.id)
                actions.append(.send(datagram, to: node.endpoint))
            }
        }
        if now >= nextMaintenance {
            nextMaintenance = now + configuration.maintenanceInterval
            actions += maintain(now: now)
        }
        return actions
    }

    mutating func timedOut(_ entry: Outstanding, touched: inout Set<DHTLookupID>, now: NIODeadline) {
        if let id = entry.nodeID { routingTable.failed(id, now: now) }
        switch entry.purpose {
        case .announce:
            break
        case .ping(let id):
            if let id { pinging.remove(id) }
        case .lookup(let id, let seed):
            guard var lookup = lookups[id] else { return }
            lookup.timeouts += 1
            if seed {
                lookup.seedsInFlight -= 1
            } else if let index = lookup.index(of: entry.endpoint) {
                lookup.candidates[index].state = .failed
            }
            lookups[id] = lookup
            touched.insert(id)
        }
    }

    /// Pings questionable nodes (so bad ones make way for replacements), refreshes stale buckets and drops
    /// expired peers.
    mutating func maintain(now: NIODeadline) -> [DHTAction] {
        var actions: [DHTAction] = []
        peerStore.expire(now: now)
        itemStore.expire(now: now)
        for node in routingTable.questionableNodes(now: now, limit: 8) where !pinging.contains(node.id) {
            guard
                let datagram = sendQuery(
                    .ping, to: node.endpoint, expecting: node.id, purpose: .ping(node.id), now: now)
            else { break }
            pinging.insert(node.id)
            actions.append(.send(datagram, to: node.endpoint))
        }
        if routingTable.count > 0 {
            for target in routingTable.refreshTargets(now: now, using: &random).prefix(4) {
                actions += findNode(target, now: now).1
            }
        }
        return actions
    }

    /// Sends a `ping` to `endpoint` (to learn its id, e.g. from a BEP 5 `port` message); its answer adds it
    /// to the routing table.
    public mutating func ping(_ endpoint: DHTEndpoint, now: NIODeadline) -> [DHTAction] {
        guard let datagram = sendQuery(.ping, to: endpoint, purpose: .ping(nil), now: now) else { return [] }
        return [.send(datagram, to: endpoint)]
    }
}
