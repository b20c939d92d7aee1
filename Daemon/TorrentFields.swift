import Foundation

/// The values of `torrent-get` fields (`docs/rpc-spec.md` §3.3), by snake_case name, from a
/// ``TorrentSnapshot``. Nested objects use the original protocol's camelCase keys (a JSON-RPC answer
/// converts them, see ``RPCResponse``).
enum TorrentFields {
    /// The snapshot parts a set of fields needs.
    static func detail(for fields: [String]) -> SnapshotDetail {
        var detail: SnapshotDetail = []
        for field in fields {
            switch field {
            case "files", "file_stats", "wanted", "priorities": detail.insert(.files)
            case "peers", "peers_from", "peers_sending_to_us", "peers_getting_from_us": detail.insert(.peers)
            case "tracker_stats", "trackers", "tracker_list": detail.insert(.trackers)
            case "pieces", "availability": detail.insert(.pieces)
            case "magnet_link": detail.insert(.magnetLink)
            default: break
            }
        }
        return detail
    }

    /// The value of one field, or nil for a field the daemon does not know (left out of the answer, as
    /// Transmission does).
    static func value(_ field: String, of torrent: TorrentSnapshot) -> JSONValue? {
        switch field {
        case "id": return .int(Int64(torrent.id))
        case "name": return .string(torrent.name)
        case "hash_string": return .string(torrent.hashString)
        case "status": return .int(Int64(torrent.activity.rawValue))
        case "error": return .int(Int64(torrent.error))
        case "error_string": return .string(torrent.errorString)
        case "total_size": return .int(torrent.totalSize)
        case "size_when_done": return .int(torrent.sizeWhenDone)
        case "left_until_done": return .int(torrent.leftUntilDone)
        case "have_valid": return .int(torrent.haveValid)
        case "have_unchecked", "corrupt_ever": return .int(0)
        case "desired_available": return .int(torrent.leftUntilDone)
        case "percent_done": return .double(torrent.percentDone)
        case "percent_complete": return .double(torrent.percentComplete)
        case "metadata_percent_complete": return .double(torrent.metadataPercentComplete)
        case "recheck_progress": return .double(torrent.recheckProgress)
        case "rate_download": return .int(Int64(torrent.rateDownload))
        case "rate_upload": return .int(Int64(torrent.rateUpload))
        case "peers_connected": return .int(Int64(torrent.peersConnected))
        case "peers_sending_to_us": return .int(Int64(torrent.peersSendingToUs))
        case "peers_getting_from_us": return .int(Int64(torrent.peersGettingFromUs))
        case "webseeds_sending_to_us": return .int(0)
        case "eta", "eta_idle": return .int(Int64(field == "eta" ? torrent.eta : -1))
        case "upload_ratio": return .double(torrent.uploadRatio)
        case "uploaded_ever": return .int(torrent.uploadedEver)
        case "downloaded_ever": return .int(torrent.downloadedEver)
        case "download_dir": return .string(torrent.downloadDir)
        case "piece_count": return .int(Int64(torrent.pieceCount))
        case "piece_size": return .int(Int64(torrent.pieceSize))
        case "added_date": return .int(torrent.addedDate)
        case "done_date": return .int(torrent.doneDate)
        case "activity_date": return .int(torrent.activityDate)
        case "start_date": return .int(torrent.startDate)
        case "edit_date", "manual_announce_time", "seconds_downloading", "seconds_seeding": return .int(0)
        case "is_finished": return .bool(torrent.isFinished)
        case "is_private": return .bool(torrent.isPrivate)
        case "is_stalled": return .bool(false)
        case "queue_position": return .int(Int64(torrent.queuePosition))
        case "comment": return .string(torrent.comment)
        case "creator": return .string(torrent.creator)
        case "date_created": return .int(torrent.dateCreated)
        case "magnet_link": return .string(torrent.magnetLink)
        case "download_limit": return .int(Int64(torrent.downloadLimit))
        case "download_limited": return .bool(torrent.downloadLimited)
        case "upload_limit": return .int(Int64(torrent.uploadLimit))
        case "upload_limited": return .bool(torrent.uploadLimited)
        case "peer_limit", "max_connected_peers": return .int(Int64(torrent.peerLimit))
        case "honors_session_limits": return .bool(true)
        case "bandwidth_priority": return .int(0)
        case "seed_ratio_limit": return .double(2)
        case "seed_ratio_mode", "seed_idle_mode": return .int(0)
        case "seed_idle_limit": return .int(30)
        case "sequential_download": return .bool(false)
        case "torrent_file": return .string(torrent.torrentFile)
        case "file_count": return .int(Int64(torrent.fileCount))
        case "labels": return .array(torrent.labels.map { .string($0) })
        case "group": return .string("")
        case "primary_mime_type": return .string("application/octet-stream")
        case "webseeds": return .array(torrent.webseeds.map { .string($0) })
        case "files":
            return .array(
                torrent.files.map { file in
                    [
                        "name": .string(file.name), "length": .int(file.length),
                        "bytesCompleted": .int(file.bytesCompleted), "beginPiece": .int(Int64(file.beginPiece)),
                        "endPiece": .int(Int64(file.endPiece)),
                    ]
                })
        case "file_stats":
            return .array(
                torrent.files.map { file in
                    [
                        "bytesCompleted": .int(file.bytesCompleted), "wanted": .bool(file.wanted),
                        "priority": .int(Int64(file.priority)),
                    ]
                })
        case "wanted": return .array(torrent.files.map { .int($0.wanted ? 1 : 0) })
        case "priorities": return .array(torrent.files.map { .int(Int64($0.priority)) })
        case "pieces": return .string(Data(torrent.pieces).base64EncodedString())
        case "peers":
            return .array(torrent.peers.map(peer))
        case "peers_from":
            return [
                "fromCache": 0, "fromDht": 0, "fromIncoming": 0, "fromLpd": 0, "fromLtep": 0, "fromPex": 0,
                "fromTracker": .int(Int64(torrent.peers.count)),
            ]
        case "trackers":
            return .array(
                torrent.trackers.map { tracker in
                    [
                        "announce": .string(tracker.announce), "id": .int(Int64(tracker.id)),
                        "tier": .int(Int64(tracker.tier)), "scrape": "", "sitename": .string(host(tracker.announce)),
                    ]
                })
        case "tracker_list":
            var lines: [String] = []
            var tier = torrent.trackers.first?.tier ?? 0
            for tracker in torrent.trackers {
                if tracker.tier != tier { lines.append("") }
                tier = tracker.tier
                lines.append(tracker.announce)
            }
            return .string(lines.joined(separator: "\n"))
        case "tracker_stats":
            return .array(torrent.trackers.map(trackerStats))
        default:
            return nil
        }
    }

    private static func peer(_ peer: PeerSnapshot) -> JSONValue {
        [
            "address": .string(peer.address), "port": .int(Int64(peer.port)), "clientName": .string(peer.clientName),
            "flagStr": .string(peer.flagString), "progress": .double(peer.progress),
            "rateToClient": .int(Int64(peer.rateToClient)), "rateToPeer": .int(Int64(peer.rateToPeer)),
            "clientIsChoked": .bool(peer.clientIsChoked), "clientIsInterested": .bool(peer.clientIsInterested),
            "peerIsChoked": .bool(peer.peerIsChoked), "peerIsInterested": .bool(peer.peerIsInterested),
            "isDownloadingFrom": .bool(!peer.clientIsChoked && peer.clientIsInterested),
            "isUploadingTo": .bool(!peer.peerIsChoked && peer.peerIsInterested),
            "isIncoming": .bool(peer.isIncoming), "isEncrypted": .bool(peer.isEncrypted), "isUTP": .bool(peer.isUTP),
        ]
    }

    private static func trackerStats(_ tracker: TrackerSnapshot) -> JSONValue {
        [
            "announce": .string(tracker.announce), "id": .int(Int64(tracker.id)), "tier": .int(Int64(tracker.tier)),
            "host": .string(host(tracker.announce)), "sitename": .string(host(tracker.announce)),
            "hasAnnounced": .bool(tracker.hasAnnounced), "lastAnnounceSucceeded": .bool(tracker.lastAnnounceSucceeded),
            "lastAnnounceResult": .string(tracker.lastAnnounceResult),
            "lastAnnouncePeerCount": .int(Int64(tracker.lastAnnouncePeerCount)),
            "seederCount": .int(Int64(tracker.seederCount)), "leecherCount": .int(Int64(tracker.leecherCount)),
            "downloadCount": -1, "isBackup": false, "announceState": 1, "scrapeState": 0, "scrape": "",
            "hasScraped": false, "lastAnnounceTime": 0, "nextAnnounceTime": 0, "lastAnnounceStartTime": 0,
            "lastAnnounceTimedOut": false, "lastScrapeTime": 0, "nextScrapeTime": 0, "lastScrapeResult": "",
            "lastScrapeSucceeded": false, "lastScrapeTimedOut": false, "lastScrapeStartTime": 0,
        ]
    }

    /// The host part of an announce URL (`http://tracker.example:6969/announce` → `tracker.example:6969`).
    private static func host(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        return String(rest.prefix { $0 != "/" })
    }
}
