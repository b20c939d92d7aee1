import BTMSE
import BTMetainfo
import BTStorage
import BTTracker
import BTWire
import Foundation
import NIOCore
import NIOPosix

/// Announces and tracker events: each torrent's tracker client and schedule.
final class Announcer: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// The `key` of every announce (BEP 7: it lets a tracker recognise the client when its address changes).
    let announceKey = UInt32.random(in: 0...UInt32.max)

    init(core: ClientCore) { self.core = core }

    /// Gives `session` its tracker client and forwards the client's `tracker_*` events (but `connect`, which
    /// ``send(_:for:tracker:)`` reports for every scheme, UDP included) to the bus, naming the torrent.
    func startTrackerClient(for session: TorrentSession) {
        // Announces leave from the address the client is bound to (a tracker lists the source address of an
        // announce), unless it is bound to every address.
        let bound = IPAddress(core.connections.listenHost).flatMap {
            $0.description == "0.0.0.0" || $0.description == "::" ? nil : $0
        }
        let tracker = TrackerClient(
            configuration: .init(addressPolicy: configuration.trackerAddressPolicy, localAddress: bound), group: loop)
        session.trackerClient = tracker
        let events = self.events
        let torrent = session.info
        session.trackerForwarder = Task {
            for await event in tracker.events {
                if let forwarded = Self.forward(event, torrent: torrent) { events.emit(forwarded) }
            }
        }
    }

    /// The bus event for a tracker event of `torrent`'s tracker client (nil for `connect`, reported by the engine).
    static func forward(_ event: TrackerEvent, torrent: ClientEvent.TorrentInfo) -> ClientEvent? {
        let info = ClientEvent.TrackerInfo(torrent: torrent, url: event.tracker)
        switch event {
        case .connect: return nil
        case .disconnect: return .trackerDisconnect(info)
        case .read(_, let bytes): return .trackerRead(info, length: bytes)
        case .write(_, let bytes): return .trackerWrite(info, length: bytes)
        case .failure(_, let error): return .trackerFailure(info, reason: "\(error)")
        case .success(_, let success):
            let peers = success.peers.compactMap { peer -> PeerEndpoint? in
                guard let address = IPAddress(peer.host), let port = UInt16(exactly: peer.port) else { return nil }
                return PeerEndpoint(address: address, port: port)
            }
            return .trackerSuccess(
                info,
                ClientEvent.AnnounceSummary(
                    complete: success.complete, incomplete: success.incomplete, peers: peers,
                    interval: .seconds(success.interval), minInterval: success.minInterval.map { .seconds($0) }))
        }
    }

    func announceDue(_ session: TorrentSession, now: NIODeadline) {
        guard var schedule = session.schedule, let tracker = session.trackerClient else { return }
        let due = schedule.due(now: now)
        session.schedule = schedule
        for announce in due { send(announce, for: session, tracker: tracker) }
    }

    func announceRequest(_ event: AnnounceEvent, trackerID: [UInt8]?, session: TorrentSession)
        -> AnnounceRequest
    {
        AnnounceRequest(
            infoHash: session.handle.wireInfoHash, peerID: core.peerID.bytes, port: core.connections.listenPort,
            uploaded: session.uploadedBytes, downloaded: session.downloadedBytes, left: session.bytesLeft,
            event: event, numWant: event == .stopped ? 0 : 50, key: announceKey, trackerID: trackerID,
            encryption: Self.announceEncryption(session.limits.encryption ?? core.encryption))
    }

    /// The tracker's crypto keys for an encryption policy.
    static func announceEncryption(_ policy: EncryptionPolicy) -> AnnounceEncryption {
        switch policy {
        case .none: .unsupported
        case .preferred: .supported
        case .required: .required
        }
    }

    func send(_ announce: AnnounceSchedule.Announce, for session: TorrentSession, tracker: TrackerClient) {
        let request = announceRequest(announce.event, trackerID: announce.trackerID, session: session)
        let trackerInfo = ClientEvent.TrackerInfo(torrent: session.info, url: announce.url)
        events.emit(.trackerConnect(trackerInfo, event: Self.kind(announce.event)))
        let announcer = self
        let url = announce.url
        Task {
            do {
                let response = try await tracker.announce(request, to: url)
                announcer.loop.execute { announcer.announced(url, response: response, session: session) }
            } catch {
                let failure = error as? TrackerError
                // The failure event comes from the tracker client's stream, after its read and disconnect.
                if let failure {
                    announcer.loop.execute { session.schedule?.failed(url, error: failure, now: announcer.loop.now) }
                }
            }
        }
    }

    func announced(_ url: String, response: AnnounceResponse, session: TorrentSession) {
        // The success event comes from the tracker client's stream, after its read and disconnect.
        session.schedule?.succeeded(url, response: response, now: loop.now)
        guard core.torrents[session.handle.wireInfoHash] === session else { return }
        // In random order: when an answer holds more peers than the candidate queue, the queue takes a
        // sample of it, not its first addresses (a lying tracker lists its junk first); the rest wait in the
        // candidates' reserve.
        var peers = response.peers
        peers.shuffle(using: &core.random)
        for peer in peers where peer.peerID == nil || peer.peerID! != core.peerID.bytes {
            core.connections.addPeer(host: peer.host, port: peer.port, source: .tracker, to: session)
        }
    }

    /// Sends the `stopped` announces of `session` and returns once they are answered or failed.
    func announceStopped(_ session: TorrentSession) -> [StopAnnounce] {
        guard var schedule = session.schedule, let tracker = session.trackerClient else { return [] }
        let due = schedule.stop(now: loop.now)
        session.schedule = schedule
        return due.map {
            StopAnnounce(
                url: $0.url, request: announceRequest(.stopped, trackerID: $0.trackerID, session: session),
                tracker: tracker, torrent: session.info)
        }
    }

    static func kind(_ event: AnnounceEvent) -> ClientEvent.AnnounceKind? {
        switch event {
        case .started: return .started
        case .completed: return .completed
        case .stopped: return .stopped
        case .none: return nil
        }
    }
}
