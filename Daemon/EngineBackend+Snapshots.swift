import BTEngine
import BTMetainfo
import Foundation

/// `torrent-get`'s snapshots of an ``EngineBackend``'s torrents: one engine status call for all of them, and
/// only the parts the fields asked for need (a list of 10,000 torrents asks for a few numbers each).
extension EngineBackend {
    /// Snapshots of torrents, from one engine status call plus the details asked for.
    public func snapshots(ids: [Int], detail: SnapshotDetail) async -> [TorrentSnapshot] {
        let wanted = Set(ids)
        var statuses: [TorrentHandle: TorrentStatus] = [:]
        if ids.count == 1, let handle = torrents[ids[0]]?.handle {
            statuses[handle] = await client.status(of: handle)
        } else {
            for status in await client.statuses() { statuses[status.handle] = status }
        }
        // Magnets whose metadata arrived are listed as the real torrent from this answer on.
        for (id, _) in fetching where wanted.contains(id) {
            if let handle = torrents[id]?.handle, let status = statuses[handle], status.state != .fetchingMetadata {
                await adoptMetadata(id)
            }
        }
        var result: [TorrentSnapshot] = []
        result.reserveCapacity(wanted.count)
        for id in wanted.sorted() {
            guard let entry = state.torrents[id: id], let known = torrents[id] else { continue }
            let (handle, torrent) = known
            guard let status = statuses[handle] else {
                result.append(placeholder(entry, torrent))
                continue
            }
            var snapshot = Self.snapshot(entry, torrent, status, detail)
            if let progress = status.metadataProgress, status.state == .fetchingMetadata {
                snapshot.metadataPercentComplete =
                    progress.total > 0 ? Double(progress.received) / Double(progress.total) : 0
                snapshot.magnetLink = entry.magnet ?? snapshot.magnetLink
                snapshot.percentDone = 0
                snapshot.percentComplete = 0
                snapshot.isFinished = false
                snapshot.eta = -1
            }
            let now = Self.now()
            if status.isFinished && entry.doneDate == 0 {
                state.torrents.update(id) { $0.doneDate = now }
                snapshot.doneDate = now
                recordLogged(id)
            }
            if status.downloadRate > 0 || status.uploadRate > 0 { lastActivity[entry.id] = now }
            snapshot.activityDate = lastActivity[entry.id] ?? 0
            snapshot.startDate = startDates[entry.id] ?? 0
            snapshot.torrentFile = torrentPath(entry.hashString)
            snapshot.labels = entry.labels ?? []
            if detail.contains(.files) || detail.contains(.pieces) {
                let verified = await client.verifiedPieces(of: handle) ?? Bitfield(count: torrent.pieceCount)
                if detail.contains(.files) { snapshot.files = Self.files(torrent, entry, verified) }
                if detail.contains(.pieces) { snapshot.pieces = verified.bytes }
            }
            if detail.contains(.peers) {
                snapshot.peers = await client.peers(of: handle).filter { $0.phase == .connected }.map(Self.peer)
                snapshot.peersSendingToUs = snapshot.peers.filter { !$0.clientIsChoked && $0.clientIsInterested }.count
                snapshot.peersGettingFromUs = snapshot.peers.filter { !$0.peerIsChoked && $0.peerIsInterested }.count
            }
            if detail.contains(.trackers) {
                let live = await client.trackerStatuses(of: handle)
                if !live.isEmpty {
                    // Ids are positions in the torrent's list (the engine shuffles each tier), so that
                    // trackerRemove and trackerReplace name what torrent-get showed.
                    let order = torrent.announceTiers.flatMap { $0 }
                    snapshot.trackers = live.enumerated().map { index, tracker in
                        TrackerSnapshot(
                            announce: tracker.url, tier: tracker.tier,
                            id: order.firstIndex(of: tracker.url) ?? order.count + index,
                            hasAnnounced: tracker.isStarted || tracker.lastPeerCount != nil,
                            lastAnnounceSucceeded: tracker.lastError == nil && tracker.lastPeerCount != nil,
                            lastAnnounceResult: tracker.lastError ?? (tracker.lastPeerCount != nil ? "Success" : ""),
                            lastAnnouncePeerCount: tracker.lastPeerCount ?? 0, seederCount: tracker.seeders ?? -1,
                            leecherCount: tracker.leechers ?? -1)
                    }
                }
            }
            result.append(snapshot)
        }
        return result
    }

    /// A torrent not (yet) in the engine: waiting for its check, or stopped with the error that kept it out.
    private func placeholder(_ entry: DaemonState.Entry, _ torrent: Torrent) -> TorrentSnapshot {
        let failure = failures[entry.id]
        var snapshot = TorrentSnapshot(
            id: entry.id, hashString: entry.hashString, name: entry.name ?? torrent.name,
            activity: failure == nil ? .checkWait : .stopped, totalSize: torrent.totalSize,
            sizeWhenDone: torrent.totalSize, leftUntilDone: torrent.totalSize, haveValid: 0, percentComplete: 0,
            percentDone: 0, downloadDir: entry.downloadDir, pieceCount: torrent.pieceCount,
            pieceSize: torrent.pieceLength, addedDate: entry.addedDate)
        if let failure {
            snapshot.error = 3
            snapshot.errorString = failure
        }
        if fetching[entry.id] != nil {
            snapshot.metadataPercentComplete = 0
            snapshot.magnetLink = entry.magnet ?? ""
        }
        snapshot.fileCount = torrent.files.count
        snapshot.torrentFile = torrentPath(entry.hashString)
        return snapshot
    }

    private static func snapshot(
        _ entry: DaemonState.Entry, _ torrent: Torrent, _ status: TorrentStatus, _ detail: SnapshotDetail
    ) -> TorrentSnapshot {
        let activity: TorrentActivity
        switch status.state {
        case .paused, .failed: activity = .stopped
        case .checking: activity = .checking
        case .seeding: activity = .seeding
        // Downloading, and the states the engine may add (fetching a magnet's metadata is on its way).
        default: activity = .downloading
        }
        var snapshot = TorrentSnapshot(
            id: entry.id, hashString: entry.hashString, name: entry.name ?? torrent.name, activity: activity,
            totalSize: status.totalBytes, sizeWhenDone: status.wantedBytes,
            leftUntilDone: max(0, status.wantedBytes - status.verifiedWantedBytes), haveValid: status.verifiedBytes,
            percentComplete: status.progress,
            percentDone: status.wantedBytes == 0 ? 1 : Double(status.verifiedWantedBytes) / Double(status.wantedBytes),
            downloadDir: entry.downloadDir, pieceCount: torrent.pieceCount, pieceSize: torrent.pieceLength,
            addedDate: entry.addedDate)
        if status.state == .failed {
            snapshot.error = 3
            snapshot.errorString = status.error ?? "storage error"
        }
        snapshot.doneDate = entry.doneDate
        snapshot.recheckProgress = status.checkProgress ?? 0
        snapshot.rateDownload = status.downloadRate
        snapshot.rateUpload = status.uploadRate
        snapshot.peersConnected = status.peers
        snapshot.eta = status.eta.map { Int($0.components.seconds) } ?? -1
        snapshot.uploadRatio = status.downloadedBytes > 0 ? status.ratio : (status.uploadedBytes > 0 ? status.ratio : 0)
        snapshot.uploadedEver = status.uploadedBytes
        snapshot.downloadedEver = status.downloadedBytes
        snapshot.isFinished = status.isFinished
        snapshot.isPrivate = torrent.isPrivate
        snapshot.queuePosition = entry.id - 1
        snapshot.comment = torrent.comment ?? ""
        snapshot.creator = torrent.createdBy ?? ""
        snapshot.dateCreated = torrent.creationDate ?? 0
        snapshot.downloadLimit = entry.downloadLimit
        snapshot.downloadLimited = entry.downloadLimited
        snapshot.uploadLimit = entry.uploadLimit
        snapshot.uploadLimited = entry.uploadLimited
        snapshot.peerLimit = status.limits.maximumPeers ?? entry.peerLimit ?? 50
        snapshot.webseeds = torrent.webSeeds
        snapshot.fileCount = torrent.files.count
        if detail.contains(.magnetLink) { snapshot.magnetLink = magnetLink(entry, torrent) }
        // The torrent's own list; live statuses replace it when the engine has them.
        guard detail.contains(.trackers) else { return snapshot }
        var trackerID = 0
        for (tier, urls) in torrent.announceTiers.enumerated() {
            for url in urls {
                snapshot.trackers.append(
                    TrackerSnapshot(
                        announce: url, tier: tier, id: trackerID, hasAnnounced: false, lastAnnounceSucceeded: false,
                        lastAnnounceResult: "", lastAnnouncePeerCount: 0, seederCount: -1, leecherCount: -1))
                trackerID += 1
            }
        }
        return snapshot
    }

    /// The torrent's magnet link: its hash, its name and its trackers (percent-encoding costs: only built when
    /// `magnetLink` is asked for).
    private static func magnetLink(_ entry: DaemonState.Entry, _ torrent: Torrent) -> String {
        var magnet = "magnet:?xt=urn:btih:\(entry.hashString)"
        if let name = torrent.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
            magnet += "&dn=" + name
        }
        for url in torrent.announceTiers.joined() {
            if let encoded = url.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
                magnet += "&tr=" + encoded
            }
        }
        return magnet
    }

    /// Each file with the bytes of it in verified pieces.
    static func files(_ torrent: Torrent, _ entry: DaemonState.Entry, _ verified: Bitfield) -> [FileSnapshot] {
        let pieceLength = Int64(max(1, torrent.pieceLength))
        let total = torrent.files.last.map { $0.offset + $0.length } ?? 0
        let paths = diskPaths(torrent, entry)
        return torrent.files.enumerated().map { index, file in
            let first = Int(file.offset / pieceLength)
            let endByte = file.offset + file.length
            let end = file.length == 0 ? first : Int((endByte - 1) / pieceLength) + 1
            var completed: Int64 = 0
            if file.length > 0 {
                for piece in first..<min(end, verified.count) where verified[piece] {
                    let start = max(file.offset, Int64(piece) * pieceLength)
                    let stop = min(endByte, min(total, Int64(piece + 1) * pieceLength))
                    completed += max(0, stop - start)
                }
            }
            let name = paths[index].joined(separator: "/")
            return FileSnapshot(
                name: name, length: file.length, bytesCompleted: completed,
                wanted: index < entry.wanted.count ? entry.wanted[index] : true,
                priority: index < entry.priorities.count ? entry.priorities[index] : 0, beginPiece: first,
                endPiece: end)
        }
    }

    private static func peer(_ peer: PeerStatus) -> PeerSnapshot {
        var flags = ""
        if !peer.peerChoking && peer.amInterested { flags += "D" } else if peer.amInterested { flags += "d" }
        if !peer.amChoking && peer.peerInterested { flags += "U" } else if peer.peerInterested { flags += "u" }
        if !peer.peerChoking && !peer.amInterested { flags += "K" }
        if !peer.amChoking && !peer.peerInterested { flags += "?" }
        if peer.isOptimisticUnchoke { flags += "O" }
        if peer.isEncrypted { flags += "E" }
        if peer.isIncoming { flags += "I" }
        if peer.transport == .utp { flags += "T" }
        switch peer.source {
        case .pex: flags += "X"
        case .dht: flags += "H"
        default: break
        }
        return PeerSnapshot(
            address: peer.endpoint.address.description, port: Int(peer.endpoint.port),
            clientName: peer.client ?? "", flagString: flags,
            progress: peer.pieces.count > 0 ? Double(peer.peerPieceCount) / Double(peer.pieces.count) : 0,
            rateToClient: peer.downloadRate, rateToPeer: peer.uploadRate, clientIsChoked: peer.peerChoking,
            clientIsInterested: peer.amInterested, peerIsChoked: peer.amChoking, peerIsInterested: peer.peerInterested,
            isIncoming: peer.isIncoming, isEncrypted: peer.isEncrypted, isUTP: peer.transport == .utp)
    }
}
