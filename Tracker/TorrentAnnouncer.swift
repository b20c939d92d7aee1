import NIOCore

/// Runs one torrent's ``AnnounceSchedule`` against a ``TrackerClient``: the thin driver between the pure
/// schedule and the network. It owns no timer: the caller (the engine) sleeps until ``nextDeadline`` and
/// calls ``announceDue()``, so time stays injected.
///
/// ```swift
/// while let deadline = await announcer.nextDeadline {
///     try await Task.sleep(for: .nanoseconds(max(0, (deadline - .now()).nanoseconds)))
///     connect(to: await announcer.announceDue())
/// }
/// ```
public actor TorrentAnnouncer {
    /// Transfer totals reported in announces.
    public struct Transfer: Sendable, Hashable {
        /// Bytes uploaded this session.
        public var uploaded: Int64
        /// Bytes downloaded this session.
        public var downloaded: Int64
        /// Bytes still missing.
        public var left: Int64
        /// Creates totals.
        public init(uploaded: Int64 = 0, downloaded: Int64 = 0, left: Int64) {
            self.uploaded = uploaded
            self.downloaded = downloaded
            self.left = left
        }
    }

    private let client: TrackerClient
    private let infoHash: [UInt8]
    private let peerID: [UInt8]
    private let port: Int
    private let key: UInt32
    private let numWant: Int
    private var schedule: AnnounceSchedule
    private var transfer: Transfer

    /// Creates a driver for `schedule`.
    public init(
        client: TrackerClient, schedule: AnnounceSchedule, infoHash: [UInt8], peerID: [UInt8], port: Int, key: UInt32,
        transfer: Transfer, numWant: Int = 50
    ) {
        self.client = client
        self.schedule = schedule
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.key = key
        self.transfer = transfer
        self.numWant = numWant
    }

    /// When ``announceDue()`` next has work (nil after ``stop()``).
    public var nextDeadline: NIODeadline? { schedule.nextDeadline }

    /// The schedule's current state (tiers, failures, last responses).
    public var state: AnnounceSchedule { schedule }

    /// Updates the totals sent with the next announces.
    public func update(_ transfer: Transfer) { self.transfer = transfer }

    /// The download finished: `completed` goes out with the next ``announceDue()``.
    public func completed() { schedule.completed(now: .now()) }

    /// Sends every announce due now, concurrently, records the outcomes and returns the peers received.
    public func announceDue() async -> [TrackerPeer] {
        let due = schedule.due(now: .now())
        let outcomes = await send(due)
        var peers: [TrackerPeer] = []
        let now = NIODeadline.now()
        for (announce, outcome) in outcomes {
            switch outcome {
            case .success(let response):
                schedule.succeeded(announce.url, response: response, now: now)
                peers += response.peers
            case .failure(let error):
                schedule.failed(announce.url, error: error, now: now)
            }
        }
        return peers
    }

    /// Sends `stopped` to every tracker that was started and ends the schedule.
    public func stop() async {
        _ = await send(schedule.stop(now: .now()))
    }

    private func send(_ announces: [AnnounceSchedule.Announce]) async
        -> [(AnnounceSchedule.Announce, Result<AnnounceResponse, TrackerError>)]
    {
        let template = AnnounceRequest(
            infoHash: infoHash, peerID: peerID, port: port, uploaded: transfer.uploaded,
            downloaded: transfer.downloaded, left: transfer.left, numWant: numWant, key: key)
        let client = self.client
        return await withTaskGroup(of: (AnnounceSchedule.Announce, Result<AnnounceResponse, TrackerError>).self) {
            group in
            for announce in announces {
                var request = template
                request.event = announce.event
                request.trackerID = announce.trackerID
                if announce.event == .stopped { request.numWant = 0 }
                group.addTask {
                    do throws(TrackerError) {
                        return (announce, .success(try await client.announce(request, to: announce.url)))
                    } catch {
                        return (announce, .failure(error))
                    }
                }
            }
            var out: [(AnnounceSchedule.Announce, Result<AnnounceResponse, TrackerError>)] = []
            for await outcome in group { out.append(outcome) }
            return out
        }
    }
}
