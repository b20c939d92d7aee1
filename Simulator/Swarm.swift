import BTEngine
import BTMetainfo
import BTStorage
import BTWire
import Foundation
import NIOCore
import NIOEmbedded

/// Runs a swarm of real ``BTEngine/Client``s on a ``VirtualNetwork`` and a virtual clock, and reports what
/// happened (``SwarmResult``).
///
/// Every client runs on one `NIOAsyncTestingEventLoop`: one queue of tasks ordered by virtual instant, so
/// the whole swarm has one total order of events, which is what makes a run repeat (separate loops would
/// each need their own clock kept in step, and every byte between clients would hop between loops).
/// Storage costs no virtual time: the clients share one storage worker, and before time moves on the
/// driver waits until every batch of reads and writes handed to it came back to the loop.
///
/// Determinism: a run depends only on its seed, with one condition outside the simulator's reach: the
/// engine keeps peers in Swift dictionaries, whose order in a process depends on memory addresses unless the
/// process starts with `SWIFT_DETERMINISTIC_HASHING=1` (``Swarm/hashingIsDeterministic``).
///
/// ```swift
/// let result = try await Swarm(.swarm(seeds: 1, leechers: 50, contentSize: 8 << 20)).run()
/// print(result.completionOverIdeal ?? .nan)
/// ```
public final class Swarm: Sendable {
    /// The swarm run.
    public let configuration: SwarmConfiguration

    /// A swarm of `configuration`.
    public init(_ configuration: SwarmConfiguration) { self.configuration = configuration }

    /// Whether this process hashes deterministically (`SWIFT_DETERMINISTIC_HASHING` set at launch): only then
    /// do two runs of one seed give identical results.
    public static var hashingIsDeterministic: Bool {
        ProcessInfo.processInfo.environment["SWIFT_DETERMINISTIC_HASHING"] != nil
    }

    /// The address of peer `index`.
    public static func host(of index: Int) -> String {
        "10.\(index / 62_500 % 250 + 1).\(index / 250 % 250 + 1).\(index % 250 + 1)"
    }

    /// Runs the swarm to the end: every staying leecher completed, or the deadline passed.
    /// - Throws: ``SimulationError`` when the description is unusable or a client cannot be set up.
    public func run() async throws(SimulationError) -> SwarmResult {
        try configuration.validate()
        let started = ContinuousClock.now
        let content = SyntheticContent(size: configuration.contentSize, seed: configuration.seed)
        let torrent = try content.makeTorrent(pieceLength: configuration.pieceLength)
        let loop = NIOAsyncTestingEventLoop()
        await loop.advanceTime(to: .uptimeNanoseconds(3_600_000_000_000))
        let origin = loop.now
        let network = VirtualNetwork(loop: loop, seed: configuration.seed)
        let pool = WorkerPool(width: 1)
        let book = Book(count: configuration.peers.count, pieces: torrent.layout.pieceCount)
        var random = SimulationRandom.derived(configuration.seed, 0xC0FFEE)
        var running: [Int: Running] = [:]
        var present: [Int] = []
        let joins = configuration.peers.indices.sorted {
            (configuration.peers[$0].joinsAt, $0) < (configuration.peers[$1].joinsAt, $1)
        }
        var nextJoin = 0
        var stayers = Set(
            configuration.peers.indices.filter {
                configuration.peers[$0].role == .leecher && configuration.peers[$0].leavesAt == nil
            })
        let end = origin + configuration.deadline

        pool.holdDrains()

        /// Runs everything due now, then every storage drain the clients launched, one at a time in launch
        /// order, each while the loop is held (so the drain sees the loop's state as it was when it started and
        /// its results are handed back in order), until nothing is left.
        func quiesce() async {
            await loop.run()
            while let drain = pool.takeHeldDrain() {
                _ = try? await loop.executeInContext {
                    let done = DispatchSemaphore(value: 0)
                    Task {
                        await drain()
                        done.signal()
                    }
                    done.wait()
                }
                await loop.run()
            }
        }

        /// Runs `work` (which may wait for storage drains, as a client's shutdown does) while quiescing.
        func quiescing(_ work: @escaping @Sendable () async -> Void) async {
            let finished = Flag()
            let task = Task {
                await work()
                finished.set()
            }
            while !finished.isSet {
                await quiesce()
                try? await Task.sleep(nanoseconds: 100_000)
            }
            await task.value
        }

        while loop.now < end {
            // Joins and leaves due now.
            while nextJoin < joins.count, origin + configuration.peers[joins[nextJoin]].joinsAt <= loop.now {
                let index = joins[nextJoin]
                nextJoin += 1
                let peer = try await start(
                    index, torrent: torrent, content: content, network: network, pool: pool, book: book, loop: loop,
                    origin: origin)
                running[index] = peer
                // Contacts: every seed present, then random others.
                var others = present.filter { configuration.peers[$0].role != .seed }
                var contacts = present.filter { configuration.peers[$0].role == .seed }
                while contacts.count < configuration.initialContacts, !others.isEmpty {
                    contacts.append(others.remove(at: Int(random.next(upperBound: UInt64(others.count)))))
                }
                for contact in contacts {
                    try? await peer.client.connect(host: Self.host(of: contact), port: 6_881, for: peer.handle)
                }
                present.append(index)
            }
            for index in present {
                if let leaves = configuration.peers[index].leavesAt, origin + leaves <= loop.now,
                    let peer = running[index]
                {
                    running[index] = nil
                    present.removeAll { $0 == index }
                    stayers.remove(index)
                    peer.final = await peer.client.status(of: peer.handle)
                    for address in await peer.client.blacklist { book.blacklisted(address.description, by: index) }
                    await quiescing { await peer.client.shutdown() }
                    book.left(index)
                }
            }
            await quiesce()
            book.sampleAvailability(
                leechers: present.filter { configuration.peers[$0].role == .leecher }.count)
            if nextJoin == joins.count, stayers.allSatisfy({ book.completion(of: $0) != nil }) { break }
            await loop.advanceTime(to: min(end, loop.now + configuration.step))
            await quiesce()
        }
        let stopped = loop.now
        // Results.
        var results: [PeerResult] = []
        var finals: [Int: TorrentStatus] = [:]
        for (index, peer) in running {
            finals[index] = await peer.client.status(of: peer.handle)
            for address in await peer.client.blacklist { book.blacklisted(address.description, by: index) }
        }
        await quiesce()
        let lastCompletion = stayers.compactMap { book.completion(of: $0) }.max()
        let allCompleted = stayers.allSatisfy { book.completion(of: $0) != nil }
        for (index, spec) in configuration.peers.enumerated() {
            let host = Self.host(of: index)
            let traffic = network.traffic(of: host)
            let peer = book.peer(index)
            let status = finals[index] ?? peer?.final
            let written = peer?.storage.bytesWritten ?? 0
            let sources = network.blockSources(of: host).filter { $0.value > 0 }
            let seedHosts = Set(
                configuration.peers.indices.filter { configuration.peers[$0].role == .seed }.map(Self.host(of:)))
            results.append(
                PeerResult(
                    index: index, host: host, role: spec.role, behaviour: spec.behaviour,
                    joinedAt: Self.seconds(spec.joinsAt),
                    completedAt: book.completion(of: index).map { Self.seconds($0 - origin) },
                    uploadedBytes: status?.uploadedBytes ?? 0, downloadedBytes: status?.downloadedBytes ?? 0,
                    blockBytesReceived: traffic.blockBytesReceived,
                    duplicateBytes: spec.role == .seed
                        ? traffic.blockBytesReceived : max(0, traffic.blockBytesReceived - written),
                    sources: sources.count,
                    blockBytesFromSeeds: sources.filter { seedHosts.contains($0.key) }.reduce(0) { $0 + $1.value },
                    hashFailures: book.hashFailures(of: index), blacklistedBy: book.blacklistings(of: host),
                    holdsCorrectCopy: peer?.storage.holdsCorrectCopy ?? false))
        }
        for index in running.keys.sorted() {
            let client = running[index]!.client
            await quiescing { await client.shutdown() }
        }
        await quiesce()
        try? await loop.submit { network.closeAll() }.get()
        await loop.advanceTime(by: .seconds(10))
        await quiesce()
        await loop.shutdownGracefully()
        let virtualEnd = allCompleted ? (lastCompletion ?? stopped) : stopped
        return SwarmResult(
            seed: configuration.seed, contentSize: configuration.contentSize, peers: results,
            virtualSeconds: Self.seconds(virtualEnd - origin), allCompleted: allCompleted,
            idealSeconds: idealSeconds(), wallSeconds: Self.seconds(ContinuousClock.now - started),
            availability: book.availability)
    }

    /// The fluid lower bound of ``SwarmResult/idealSeconds``.
    func idealSeconds() -> Double {
        let size = Double(configuration.contentSize)
        let peers = configuration.peers
        let leechers = peers.filter { $0.role == .leecher }
        guard !leechers.isEmpty else { return 0 }
        func up(_ spec: PeerSpec) -> Double { spec.profile.uploadBytesPerSecond.map(Double.init) ?? .infinity }
        let seedUpload = peers.filter { $0.role == .seed }.reduce(0.0) { $0 + up($1) }
        let useful = seedUpload + leechers.filter { $0.behaviour == .honest }.reduce(0.0) { $0 + up($1) }
        let slowest = leechers.compactMap { $0.profile.downloadBytesPerSecond }.min().map(Double.init) ?? .infinity
        return max(size / seedUpload, Double(leechers.count) * size / useful, size / slowest)
    }

    static func seconds(_ amount: TimeAmount) -> Double { Double(amount.nanoseconds) / 1e9 }
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// One started peer.
    final class Running: @unchecked Sendable {
        let client: Client
        let handle: TorrentHandle
        let storage: SyntheticStorage
        var final: TorrentStatus?

        init(client: Client, handle: TorrentHandle, storage: SyntheticStorage) {
            self.client = client
            self.handle = handle
            self.storage = storage
        }
    }

    /// Starts peer `index`: its node on the network, its client on the loop, the torrent in it.
    private func start(
        _ index: Int, torrent: Torrent, content: SyntheticContent, network: VirtualNetwork, pool: WorkerPool,
        book: Book, loop: NIOAsyncTestingEventLoop, origin: NIODeadline
    ) async throws(SimulationError) -> Running {
        let spec = configuration.peers[index]
        let host = Self.host(of: index)
        network.addNode(host: host, index: index, profile: spec.profile, behaviour: spec.behaviour)
        var random = SimulationRandom.derived(configuration.seed, 0x1000_0000 + UInt64(index))
        let storage = SyntheticStorage(layout: torrent.layout, content: content, complete: spec.role == .seed)
        var settings = ClientConfiguration(host: host, ports: [6_881])
        settings.peerID = PeerID.generate(prefix: Array("-NS0200-".utf8), using: &random)
        settings.randomSeed = random.next()
        settings.usesTrackers = false
        settings.transport = network
        settings.workerPool = pool
        settings.reportsPacketEvents = false
        settings.makeStorage = { _, _, _ in storage }
        configuration.configureClient(&settings, index, spec)
        do {
            let client = try await Client(configuration: settings, on: loop)
            client.events.on(.torrentFinished) { _ in book.completed(index, at: loop.now) }
            client.events.on(.pieceHashFail) { _ in book.hashFailed(index) }
            if spec.role == .leecher {
                client.events.on(.pieceHashPass) { event in
                    if case .pieceHashPass(_, let piece) = event { book.verified(piece, by: index) }
                }
            }
            let handle = try await client.addTorrent(torrent, downloadDirectory: "/sim/\(index)")
            let running = Running(client: client, handle: handle, storage: storage)
            book.started(index, running)
            return running
        } catch {
            throw SimulationError(.setupFailed, "peer \(index) (\(host)): \(error)")
        }
    }

    /// A flag set once, read from any thread.
    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.withLock { value } }
        func set() { lock.withLock { value = true } }
    }

    /// What the clients' events say, gathered from the loop (counts and first times, so the order in which
    /// handlers ran does not matter).
    final class Book: @unchecked Sendable {
        private let lock = NSLock()
        private var completions: [NIODeadline?]
        private var failures: [Int]
        private var blacklists: [String: Set<Int>] = [:]
        private var peers: [Int: Running] = [:]
        private var counter: AvailabilityCounter

        init(count: Int, pieces: Int) {
            completions = Array(repeating: nil, count: count)
            failures = Array(repeating: 0, count: count)
            counter = AvailabilityCounter(pieces: pieces)
        }

        func started(_ index: Int, _ peer: Running) { lock.withLock { peers[index] = peer } }
        func left(_ index: Int) { lock.withLock { counter.left(index) } }
        func verified(_ piece: Int, by index: Int) { lock.withLock { counter.verified(piece, by: index) } }
        func sampleAvailability(leechers: Int) { lock.withLock { counter.sample(leechers: leechers) } }
        var availability: PieceAvailability { lock.withLock { counter.figure } }
        func peer(_ index: Int) -> Running? { lock.withLock { peers[index] } }
        func completed(_ index: Int, at time: NIODeadline) {
            lock.withLock { if completions[index] == nil { completions[index] = time } }
        }
        func completion(of index: Int) -> NIODeadline? { lock.withLock { completions[index] } }
        func hashFailed(_ index: Int) { lock.withLock { failures[index] += 1 } }
        func hashFailures(of index: Int) -> Int { lock.withLock { failures[index] } }
        func blacklisted(_ host: String, by index: Int) {
            lock.withLock { _ = blacklists[host, default: []].insert(index) }
        }
        func blacklistings(of host: String) -> Int { lock.withLock { blacklists[host]?.count ?? 0 } }
    }
}
