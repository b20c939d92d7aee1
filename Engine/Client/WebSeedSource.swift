import BTMetainfo
import BTStorage
import BTWebSeed
import Logging
import NIOCore
import NIOPosix

/// Web seeds (BEP 19) as a source beside peers: each torrent's `url-list` (plus
/// ``WebSeedSettings/additional``) becomes a set of web seeds, each with BTWebSeed's `WebSeedMachine` and a
/// picker key of its own (from ``firstKey`` up, never a connection's key).
///
/// A web seed is given whole pieces no peer is fetching: it asks the picker as a peer on parole does (new
/// pieces exclusive to it, so a corrupt piece is its alone), suggesting a run of contiguous missing pieces so
/// one GET per file covers the run: one piece at first, then what it delivered in about a second, up to
/// ``WebSeedSettings/requestBytes``. The bytes are cut into blocks
/// (`WebSeedBlockCutter`) and go the way of a peer's blocks (`Downloader.receive`: counters, picker, the
/// piece store's writer, the hash check). A piece built from its bytes that fails the check drops the web
/// seed; a failed GET returns its blocks to the pool and rests the web seed (its pieces are then shared with
/// peers); download back-pressure stops new GETs while the write backlog is full.
final class WebSeedSource: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// Picker keys of web seeds start here (connection keys count up from 1).
    static let firstKey: UInt64 = 1 << 62
    private var nextKey = WebSeedSource.firstKey
    /// Web seeds by torrent (wire info-hash), made on the torrent's first `fill`.
    private var seeds: [[UInt8]: [WebSeed]] = [:]
    /// The HTTP driver, made when the first web seed is asked for something.
    private var client: WebSeedClient?
    private var nextJob = 0

    /// One web seed of one torrent; confined to the loop.
    final class WebSeed: @unchecked Sendable {
        let text: String
        let url: WebSeedURL?
        let key: UInt64
        var machine: WebSeedMachine
        /// Final URLs after redirects, per file index (as libtorrent keeps them).
        var redirects: [Int: String] = [:]
        var jobs: [Int: Job] = [:]
        var lastError: String?
        var rateSample: (at: NIODeadline, bytes: Int64)
        var rate: Double = 0
        /// Bytes of GETs not yet paid for under a download limit: the next GET waits until the limiter has
        /// granted them, as a peer's next requests do.
        var debt = 0
        /// The torrent (wire info-hash) it serves, for the limiter.
        var torrent: [UInt8] = []
        /// Bytes the next GET may claim: one piece at first, then what the web seed delivered in about a
        /// second in its last GET (at most ``WebSeedSettings/requestBytes``), so a slow web seed does not hold
        /// pieces that peers could fetch.
        var claimBytes: Int

        init(text: String, key: UInt64, configuration: WebSeedMachine.Configuration, now: NIODeadline) {
            self.text = text
            self.url = try? WebSeedURL(text)
            self.key = key
            self.machine = WebSeedMachine(configuration: configuration)
            self.rateSample = (now, 0)
            self.claimBytes = 0
        }
    }

    /// One GET sequence in flight: the blocks it still owes, and its task.
    final class Job: @unchecked Sendable {
        let id: Int
        var pending: Set<BlockRequest>
        var task: Task<Void, Never>?
        let startedAt: NIODeadline
        let bytes: Int
        init(id: Int, blocks: [BlockRequest], now: NIODeadline) {
            self.id = id
            self.pending = Set(blocks)
            self.startedAt = now
            self.bytes = blocks.reduce(0) { $0 + $1.length }
        }
    }

    init(core: ClientCore) { self.core = core }

    private var settings: WebSeedSettings { configuration.webSeeds }

    /// The web seeds of `session`, made (and registered with its picker as having every piece) on first use.
    private func webSeeds(of session: TorrentSession) -> [WebSeed] {
        let hash = session.handle.wireInfoHash
        if let existing = seeds[hash] { return existing }
        var texts: [String] = []
        for text in session.torrent.webSeeds + (settings.additional[hash] ?? []) where !texts.contains(text) {
            texts.append(text)
        }
        let made = texts.map { text in
            let seed = WebSeed(text: text, key: nextKey, configuration: settings.machine, now: loop.now)
            seed.torrent = hash
            nextKey += 1
            if seed.url == nil {
                let error = WebSeedError(.invalidURL, "\(text.prefix(200)) is not an http(s) URL")
                seed.lastError = "\(error)"
                seed.machine.giveUp(error)
            } else {
                session.picker.peerHasAll(seed.key)
            }
            return seed
        }
        seeds[hash] = made
        return made
    }

    /// Starts GETs on every web seed of `session` that may take one, while the torrent downloads and its
    /// write backlog has room; stops them when it no longer downloads.
    func fill(_ session: TorrentSession) {
        guard settings.isEnabled, core.torrents[session.handle.wireInfoHash] === session else { return }
        guard !session.torrent.webSeeds.isEmpty || settings.additional[session.handle.wireInfoHash] != nil else {
            return
        }
        let list = webSeeds(of: session)
        guard session.state == .downloading else {
            for seed in list { cancelJobs(of: seed) }
            return
        }
        let now = loop.now
        for seed in list where !seed.machine.isFailed {
            guard seed.machine.canStartRequest(now: now) else { continue }
            // Idempotent: a hash check replaces the picker, and the new one must know the web seed too.
            session.picker.peerHasAll(seed.key)
            while seed.debt <= 0 && seed.machine.canStartRequest(now: now)
                && !core.downloads.isWriteBacklogFull(session)
            {
                let blocks = pick(for: seed, session: session)
                guard !blocks.isEmpty else { break }
                start(blocks, on: seed, session: session, now: now)
            }
        }
    }

    /// Up to ``WebSeedSettings/requestBytes`` of blocks for `seed`: a run of contiguous missing pieces
    /// suggested to the picker, which starts them exclusive to the web seed.
    private func pick(for seed: WebSeed, session: TorrentSession) -> [BlockRequest] {
        // `session.picker` is read in place, never copied: a copy alive while `pick` mutates it would make
        // every table in it copied.
        let layout = session.picker.layout
        var run: [Int] = []
        var bytes = 0
        for piece in 0..<layout.pieceCount {
            let free = session.picker.state(ofPiece: piece) == .missing && session.picker.priority(ofPiece: piece) > 0
            if free {
                run.append(piece)
                bytes += layout.size(ofPiece: piece)
                if bytes >= max(claim(seed, session: session), layout.pieceLength) { break }
            } else if !run.isEmpty {
                break
            }
        }
        // The run's blocks (the picker first hands back blocks of pieces this web seed already holds, from a GET
        // that failed); without a run, whatever the picker gives up to the request size.
        let blockSize = session.picker.configuration.blockSize
        let count =
            run.isEmpty
            ? (max(claim(seed, session: session), layout.pieceLength) + blockSize - 1) / blockSize
            : run.reduce(0) { $0 + session.picker.blockCount(ofPiece: $1) }
        let context = PiecePicker<UInt64>.PickContext(suggested: run, onParole: true)
        return session.picker.pick(for: seed.key, count: count, context: context, using: &core.random).sorted()
    }

    /// The download limit in force for `session` (the lower of the client's and the torrent's), if any.
    private func downloadLimit(of session: TorrentSession) -> Int? {
        let limits = [core.rates.globalRate(.download), session.limits.downloadLimit.bytesPerSecond].compactMap { $0 }
        return limits.min()
    }

    /// Bytes the next GET of `seed` may claim: its own claim, at most a second's worth of the download limit.
    private func claim(_ seed: WebSeed, session: TorrentSession) -> Int {
        guard let limit = downloadLimit(of: session) else { return seed.claimBytes }
        return min(seed.claimBytes, limit)
    }

    private func start(_ blocks: [BlockRequest], on seed: WebSeed, session: TorrentSession, now: NIODeadline) {
        guard let url = seed.url else { return }
        seed.machine.requestStarted(now: now)
        let job = Job(id: nextJob, blocks: blocks, now: now)
        nextJob += 1
        seed.jobs[job.id] = job
        // Under a download limit the GET is paid for up front: the next one waits for the limiter's grant.
        if downloadLimit(of: session) != nil {
            seed.debt += job.bytes
            core.grant(
                core.rates.request(
                    job.bytes, peer: seed.key, torrent: seed.torrent, direction: .download, now: core.instant(now)))
        }
        let layout = session.picker.layout
        // Contiguous segments of the torrent's stream, each fetched file range by file range.
        var segments: [[BlockRequest]] = []
        for block in blocks {
            if let last = segments.last?.last, WebSeedBlockCutter.isContiguous([last, block], in: layout) {
                segments[segments.count - 1].append(block)
            } else {
                segments.append([block])
            }
        }
        let client = httpClient()
        let torrent = session.torrent
        let redirects = seed.redirects
        let loop = self.loop
        job.task = Task { [self] in
            var failure: WebSeedError?
            do throws(WebSeedError) {
                for segment in segments {
                    var cutter = WebSeedBlockCutter(blocks: segment)
                    let first = segment[0]
                    let start = layout.offset(ofPiece: first.piece) + Int64(first.offset)
                    let length = segment.reduce(0) { $0 + $1.length }
                    for range in WebSeedRange.ranges(in: layout, streamOffset: start, length: length) {
                        if range.isPadFile {
                            let done = try cutter.append(ByteBuffer(repeating: 0, count: range.length))
                            loop.execute { self.received(done, job: job, seed: seed, session: session) }
                            continue
                        }
                        let asked = redirects[range.fileIndex] ?? url.fileURL(of: torrent, file: range.fileIndex)
                        let answered = try await client.fetch(asked, range: range) { chunk throws(WebSeedError) in
                            let done = try cutter.append(chunk)
                            guard !done.isEmpty else { return }
                            loop.execute { self.received(done, job: job, seed: seed, session: session) }
                        }
                        if answered != asked {
                            loop.execute { seed.redirects[range.fileIndex] = answered }
                        }
                    }
                }
            } catch {
                failure = error
            }
            let ended = failure
            loop.execute { self.ended(job, seed: seed, session: session, error: ended) }
        }
    }

    private func received(
        _ blocks: [(BlockRequest, ByteBuffer)], job: Job, seed: WebSeed, session: TorrentSession
    ) {
        guard seed.jobs[job.id] === job, !seed.machine.isFailed,
            core.torrents[session.handle.wireInfoHash] === session
        else { return }
        guard session.state == .downloading else {
            job.task?.cancel()  // paused, failed or finished: what it still sends returns to the pool
            return
        }
        for (block, bytes) in blocks where job.pending.remove(block) != nil {
            seed.machine.received(block.length)
            core.downloads.receive(block, bytes: bytes, from: seed.key, session: session)
        }
    }

    private func ended(_ job: Job, seed: WebSeed, session: TorrentSession, error: WebSeedError?) {
        guard seed.jobs.removeValue(forKey: job.id) != nil, core.torrents[session.handle.wireInfoHash] === session
        else { return }
        for block in job.pending { session.picker.requestCancelled(block, by: seed.key) }
        if let error, error.code == .cancelled {
            seed.machine.requestCancelled()
        } else if let error {
            seed.lastError = "\(error)"
            switch seed.machine.requestFailed(error, now: loop.now) {
            case .backOff(let until):
                // Its half-fetched pieces may go to peers while it rests.
                session.picker.releaseExclusivity(of: seed.key)
                configuration.logger.info(
                    "web seed \(seed.text) rests \((until - loop.now).nanoseconds / 1_000_000) ms: \(error)")
            case .drop(let reason):
                drop(seed, session: session, reason: reason)
            }
        } else {
            seed.machine.requestSucceeded()
            let seconds = Double((loop.now - job.startedAt).nanoseconds) / 1e9
            let perSecond = seconds > 0 ? Double(job.bytes) / seconds : Double(settings.requestBytes)
            seed.claimBytes = Int(min(Double(settings.requestBytes), perSecond))
        }
        fill(session)
    }

    /// The limiter granted `bytes` to the web seed with picker key `key`: its debt shrinks, and once paid its
    /// torrent may start its next GET.
    func granted(_ bytes: Int, to key: UInt64) {
        for (hash, list) in seeds {
            guard let seed = list.first(where: { $0.key == key }) else { continue }
            seed.debt -= bytes
            if seed.debt <= 0, let session = core.torrents[hash] { fill(session) }
            return
        }
    }

    /// A piece built from `contributors`' bytes failed the hash check: a web seed among them is dropped.
    /// Returns whether one was among them: the piece is then put down to the web seed alone, as the engine
    /// blames a blacklisted peer alone, so a peer that finished pieces a lying web seed started is not punished.
    func pieceFailed(_ piece: Int, contributors: Set<UInt64>, session: TorrentSession) -> Bool {
        guard let list = seeds[session.handle.wireInfoHash] else { return false }
        var blamed = false
        for seed in list where contributors.contains(seed.key) {
            blamed = true
            guard !seed.machine.isFailed else { continue }
            if case .drop(let reason) = seed.machine.servedCorruptPiece(piece) {
                drop(seed, session: session, reason: reason)
            }
        }
        return blamed
    }

    private func drop(_ seed: WebSeed, session: TorrentSession, reason: WebSeedError) {
        seed.lastError = "\(reason)"
        cancelJobs(of: seed)
        session.picker.peerLeft(seed.key)
        configuration.logger.warning("web seed \(seed.text) dropped: \(reason)")
    }

    private func cancelJobs(of seed: WebSeed) {
        for job in seed.jobs.values { job.task?.cancel() }
    }

    /// The torrent is gone: its GETs stop and its web seeds are forgotten.
    func remove(_ session: TorrentSession) {
        guard let list = seeds.removeValue(forKey: session.handle.wireInfoHash) else { return }
        for seed in list {
            cancelJobs(of: seed)
            seed.jobs.removeAll()
            core.rates.removePeer(seed.key)
        }
    }

    /// Every GET stops and the HTTP client shuts down (in the background: it holds no torrent state).
    func shutdown() {
        for list in seeds.values { for seed in list { cancelJobs(of: seed) } }
        seeds.removeAll()
        if let client {
            self.client = nil
            Task { await client.shutdown() }
        }
    }

    private func httpClient() -> WebSeedClient {
        if let client { return client }
        // GETs leave from the address the client is bound to, as announces do, unless it is bound to every one.
        let bound = IPAddress(core.connections.listenHost).flatMap {
            $0.description == "0.0.0.0" || $0.description == "::" ? nil : $0
        }
        let made = WebSeedClient(
            configuration: .init(
                addressPolicy: configuration.trackerAddressPolicy, timeout: settings.timeout,
                connectionsPerHost: settings.machine.maximumConnections, localAddress: bound),
            group: MultiThreadedEventLoopGroup.singleton)
        client = made
        return made
    }

    /// The status of `session`'s web seeds; rates are sampled here (at most once a second).
    func statuses(of session: TorrentSession) -> [WebSeedStatus] {
        let now = loop.now
        return (seeds[session.handle.wireInfoHash] ?? []).map { seed in
            let elapsed = now - seed.rateSample.at
            if elapsed >= .seconds(1) {
                seed.rate =
                    Double(seed.machine.receivedBytes - seed.rateSample.bytes) * 1e9 / Double(elapsed.nanoseconds)
                seed.rateSample = (now, seed.machine.receivedBytes)
            }
            let state: WebSeedStatus.State
            switch seed.machine.state {
            case .idle: state = .idle
            case .requesting: state = .requesting
            case .backingOff: state = .backingOff
            case .failed: state = .failed
            }
            return WebSeedStatus(
                url: seed.text, state: state, downloadedBytes: seed.machine.receivedBytes, downloadRate: seed.rate,
                requestsInFlight: seed.machine.inFlight, lastError: seed.lastError)
        }
    }
}
