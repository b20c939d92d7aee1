import NIOCore

/// A deterministic in-process network of ``DHTNode``s: a virtual clock, a virtual network with a
/// per-node latency (round trips spread over a configurable range), packet loss, and nodes joining and
/// leaving. No sockets; the same seed gives the same run.
///
/// It is the harness the module's tests and the `Benchmarks/dht` run use to measure lookups at scale, and a
/// user can use it to try settings before touching a real network.
public struct DHTSimulation {
    /// Settings of a simulated network.
    public struct Configuration: Sendable {
        /// Seed of every random choice (addresses, latencies, loss, node seeds).
        public var seed: UInt64
        /// One node's share of a round trip, in milliseconds: a round trip between two nodes is the sum of
        /// their shares, so shares of 10–200 ms give round trips of 20–400 ms.
        public var latencyShare: ClosedRange<Int>
        /// Probability that a datagram is lost.
        public var lossRate: Double
        /// Nodes a joining node bootstraps from (picked at random among those online).
        public var bootstrapNodes: Int
        /// BEP 42: give every node an id derived from its address.
        public var secureIDs: Bool
        /// The configuration of every node (its `localID`, `externalAddress` and `randomSeed` are set per
        /// node).
        public var node: DHTConfiguration

        /// Creates a configuration.
        public init(
            seed: UInt64 = 1, latencyShare: ClosedRange<Int> = 10...200, lossRate: Double = 0.01,
            bootstrapNodes: Int = 3, secureIDs: Bool = true, node: DHTConfiguration = DHTConfiguration(randomSeed: 0)
        ) {
            self.seed = seed
            self.latencyShare = latencyShare
            self.lossRate = lossRate
            self.bootstrapNodes = bootstrapNodes
            self.secureIDs = secureIDs
            self.node = node
        }
    }

    struct Event {
        var time: UInt64
        var sequence: UInt64
        var node: Int
        var datagram: [UInt8]?
        var from: DHTEndpoint
    }

    /// A binary min-heap of events by (time, sequence). Written here because BTDHT depends only on
    /// NIOCore and the bencode/metainfo modules; swift-collections' `Heap` is not among them.
    struct EventQueue {
        var items: [Event] = []
        var isEmpty: Bool { items.isEmpty }
        var first: Event? { items.first }
        static func less(_ a: Event, _ b: Event) -> Bool { (a.time, a.sequence) < (b.time, b.sequence) }
        mutating func push(_ event: Event) {
            items.append(event)
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.less(items[child], items[parent]) else { break }
                items.swapAt(child, parent)
                child = parent
            }
        }
        mutating func pop() -> Event? {
            guard !items.isEmpty else { return nil }
            items.swapAt(0, items.count - 1)
            let top = items.removeLast()
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count && Self.less(items[left], items[smallest]) { smallest = left }
                if right < items.count && Self.less(items[right], items[smallest]) { smallest = right }
                guard smallest != parent else { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
            return top
        }
    }

    /// The settings.
    public let configuration: Configuration
    /// The virtual time.
    public private(set) var now: NIODeadline
    var random: DHTRandom
    var nodes: [DHTNode?] = []
    var endpoints: [DHTEndpoint] = []
    var latencies: [Int] = []
    var index: [DHTEndpoint: Int] = [:]
    var scheduledTick: [UInt64?] = []
    var queue = EventQueue()
    var sequence: UInt64 = 0
    var results: [(node: Int, result: DHTLookupResult)] = []
    /// Attacking nodes (by index): they answer every lookup with each other and with a poisoned peer.
    var sybils: [Int: DHTNodeInfo] = [:]
    var sybilPoison: DHTEndpoint?
    /// Datagrams handed to the virtual network.
    public private(set) var datagramsSent = 0
    /// Datagrams lost (by the loss rate or because the receiver is offline).
    public private(set) var datagramsLost = 0
    /// Node indices currently online.
    public private(set) var online: Set<Int> = []
    /// Virtual time spent online by nodes that left.
    var offlineNodeTime: TimeAmount = .zero
    var joinedAt: [NIODeadline] = []

    /// Virtual time spent online, summed over every node (for rates per node).
    public var nodeTime: TimeAmount {
        online.reduce(offlineNodeTime) { $0 + (now - joinedAt[$1]) }
    }

    /// Creates an empty network.
    public init(configuration: Configuration) {
        self.configuration = configuration
        self.random = DHTRandom(seed: configuration.seed)
        self.now = .uptimeNanoseconds(1_000_000_000)
    }

    /// Every node ever created (online or not).
    public var nodeCount: Int { nodes.count }

    /// Node `index`, if online.
    public func node(_ index: Int) -> DHTNode? { nodes[index] }

    /// Online nodes storing peers of `infoHash`, by index.
    public func storers(of infoHash: NodeID) -> [Int] {
        online.sorted().filter { nodes[$0]?.peerStore.torrents[infoHash] != nil }
    }

    /// The `count` online nodes closest to `target`, by index, closest first.
    public func closestOnline(to target: NodeID, count: Int) -> [Int] {
        let ranked = online.compactMap { i in nodes[i].map { (i, $0.localID) } }
            .sorted { target.isCloser($0.1, than: $1.1) }
        return ranked.prefix(count).map(\.0)
    }

    /// The endpoint of node `index`.
    public func endpoint(of index: Int) -> DHTEndpoint { endpoints[index] }

    /// Creates a node with a fresh address and bootstraps it from up to `bootstrapNodes` random online
    /// nodes (or from `bootstrap` when given). Returns its index.
    @discardableResult
    public mutating func addNode(bootstrap: [Int]? = nil, configure: ((inout DHTConfiguration) -> Void)? = nil)
        -> Int
    {
        let number = nodes.count
        // Addresses in 11.0.0.0/8 and up: public-looking, so BEP 42 applies (local ones are exempt).
        let ip = DHTEndpoint.IP.v4(0x0B00_0000 &+ UInt32(number) &* 7 &+ 1)
        let endpoint = DHTEndpoint(ip: ip, port: 6881)
        var nodeConfiguration = configuration.node
        nodeConfiguration.randomSeed = random.next()
        nodeConfiguration.localID =
            configuration.secureIDs
            ? SecureNodeID.generate(for: ip, using: &random) : NodeID.random(using: &random)
        configure?(&nodeConfiguration)
        var node = DHTNode(configuration: nodeConfiguration, now: now)
        let seeds =
            bootstrap
            ?? Array(online.sorted().shuffled(using: &random).prefix(configuration.bootstrapNodes))
        nodes.append(nil)
        endpoints.append(endpoint)
        latencies.append(Int.random(in: configuration.latencyShare, using: &random))
        scheduledTick.append(nil)
        joinedAt.append(now)
        index[endpoint] = number
        online.insert(number)
        let actions = node.bootstrap(from: seeds.map { endpoints[$0] }, now: now).1
        nodes[number] = node
        perform(actions, of: number)
        return number
    }

    /// Takes node `index` offline for good: datagrams to it are lost from now on.
    public mutating func removeNode(_ index: Int) {
        if online.contains(index) { offlineNodeTime = offlineNodeTime + (now - joinedAt[index]) }
        nodes[index] = nil
        online.remove(index)
        scheduledTick[index] = nil
    }

    /// Starts a `get_peers` lookup (and announce) at node `index`.
    @discardableResult
    public mutating func getPeers(at index: Int, infoHash: NodeID, announce: DHTAnnounce? = nil) -> DHTLookupID? {
        guard var node = nodes[index] else { return nil }
        let (id, actions) = node.getPeers(infoHash, announce: announce, now: now)
        nodes[index] = node
        perform(actions, of: index)
        return id
    }

    /// Starts a `find_node` lookup at node `index`.
    @discardableResult
    public mutating func findNode(at index: Int, target: NodeID) -> DHTLookupID? {
        guard var node = nodes[index] else { return nil }
        let (id, actions) = node.findNode(target, now: now)
        nodes[index] = node
        perform(actions, of: index)
        return id
    }

    /// Starts a BEP 44 put at node `index`.
    @discardableResult
    public mutating func putItem(at index: Int, _ item: DHTItem) -> DHTLookupID? {
        guard var node = nodes[index] else { return nil }
        let (id, actions) = node.putItem(item, now: now)
        nodes[index] = node
        perform(actions, of: index)
        return id
    }

    /// Starts a BEP 44 get at node `index`.
    @discardableResult
    public mutating func getItem(at index: Int, target: NodeID, salt: [UInt8] = []) -> DHTLookupID? {
        guard var node = nodes[index] else { return nil }
        let (id, actions) = node.getItem(target, salt: salt, now: now)
        nodes[index] = node
        perform(actions, of: index)
        return id
    }

    /// Lookups finished since the last call, with the node that ran each.
    public mutating func takeResults() -> [(node: Int, result: DHTLookupResult)] {
        defer { results = [] }
        return results
    }

    /// Runs the network until `deadline`.
    public mutating func run(until deadline: NIODeadline) {
        while let event = queue.first, event.time <= deadline.uptimeNanoseconds {
            _ = queue.pop()
            now = .uptimeNanoseconds(event.time)
            let i = event.node
            if let sybil = sybils[i] {
                if let datagram = event.datagram { answerAsSybil(sybil, i, datagram, from: event.from) }
                continue
            }
            guard var node = nodes[i] else { continue }
            let actions: [DHTAction]
            if let datagram = event.datagram {
                actions = node.receive(datagram, from: event.from, now: now)
            } else {
                guard scheduledTick[i] == event.time else { continue }
                scheduledTick[i] = nil
                actions = node.tick(now: now)
            }
            nodes[i] = node
            perform(actions, of: i)
        }
        now = max(now, deadline)
    }

    /// Runs the network for `duration` of virtual time.
    public mutating func run(for duration: TimeAmount) { run(until: now + duration) }

    /// Adds an attacking node with a chosen `id` (a Sybil placed next to a target): it pings `contacts`
    /// random honest nodes so that they learn of it, answers `find_node` and `get_peers` with the other
    /// attackers closest to the target and, for `get_peers`, with `poison` as the only peer, and drops
    /// announces. Returns its index.
    @discardableResult
    public mutating func addSybil(id: NodeID, poison: DHTEndpoint, contacts: Int) -> Int {
        let number = nodes.count
        let endpoint = DHTEndpoint(ip: .v4(0x0B00_0000 &+ UInt32(number) &* 7 &+ 1), port: 6881)
        nodes.append(nil)
        endpoints.append(endpoint)
        latencies.append(Int.random(in: configuration.latencyShare, using: &random))
        scheduledTick.append(nil)
        joinedAt.append(now)
        index[endpoint] = number
        sybils[number] = DHTNodeInfo(id: id, endpoint: endpoint)
        sybilPoison = poison
        for target in online.sorted().shuffled(using: &random).prefix(contacts) {
            let ping = KRPCCodec.encode(
                .query(KRPCQueryMessage(transactionID: [0, 0], senderID: id, query: .ping)))
            deliver(ping, from: number, to: target)
        }
        return number
    }

    mutating func answerAsSybil(_ sybil: DHTNodeInfo, _ i: Int, _ datagram: [UInt8], from source: DHTEndpoint) {
        guard case .query(let query)? = try? KRPCCodec.decode(datagram), let j = index[source] else { return }
        var response = KRPCResponse(senderID: sybil.id)
        func closestSybils(_ target: NodeID) -> [DHTNodeInfo] {
            Array(sybils.values.sorted { target.isCloser($0.id, than: $1.id) }.prefix(8))
        }
        switch query.query {
        case .findNode(let target, _): response.nodes = closestSybils(target)
        case .getPeers(let infoHash, _, _, _):
            response.nodes = closestSybils(infoHash)
            response.values = sybilPoison.map { [$0] } ?? []
            response.token = [0]
        default: break
        }
        let reply = KRPCCodec.encode(
            .response(KRPCResponseMessage(transactionID: query.transactionID, response: response)))
        deliver(reply, from: i, to: j)
    }

    mutating func deliver(_ datagram: [UInt8], from i: Int, to j: Int) {
        datagramsSent += 1
        let delay = UInt64(latencies[i] + latencies[j]) * 500_000
        sequence += 1
        queue.push(
            Event(
                time: now.uptimeNanoseconds + delay, sequence: sequence, node: j, datagram: datagram,
                from: endpoints[i]))
    }

    mutating func perform(_ actions: [DHTAction], of i: Int) {
        for action in actions {
            switch action {
            case .send(let datagram, let to):
                datagramsSent += 1
                guard let j = index[to], nodes[j] != nil || sybils[j] != nil,
                    configuration.lossRate <= 0 || Double.random(in: 0..<1, using: &random) >= configuration.lossRate
                else {
                    datagramsLost += 1
                    continue
                }
                let delay = UInt64(latencies[i] + latencies[j]) * 500_000  // half a round trip, in ns
                sequence += 1
                queue.push(
                    Event(
                        time: now.uptimeNanoseconds + delay, sequence: sequence, node: j, datagram: datagram,
                        from: endpoints[i]))
            case .lookupCompleted(let result):
                results.append((i, result))
            case .peersFound:
                break  // the result lists them too, with the time the first arrived
            }
        }
        guard let node = nodes[i] else { return }
        let due = max(node.nextDeadline.uptimeNanoseconds, now.uptimeNanoseconds)
        if let scheduled = scheduledTick[i], scheduled <= due { return }
        scheduledTick[i] = due
        sequence += 1
        queue.push(Event(time: due, sequence: sequence, node: i, datagram: nil, from: endpoints[i]))
    }
}
