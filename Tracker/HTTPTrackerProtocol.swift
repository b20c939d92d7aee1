import BTBencode

/// The HTTP tracker protocol (BEP 3, 7, 23, 48) without I/O: request URLs in, parsed responses out.
public enum HTTPTrackerProtocol {
    /// Largest number of peers taken from one response (a hostile tracker cannot make us hold more): more
    /// than the default response limit (``TrackerClient/Configuration/maxResponseBytes``, 1 MiB, libtorrent's
    /// `tracker_maximum_response_length`) holds in compact form (174,762), so every peer of an answer that was
    /// accepted is kept and the engine, not the parser, decides which to dial (an honest peer listed last in
    /// a 40,000-peer answer is not cut off).
    public static let maxPeers = 200_000
    /// Intervals are clamped to this many seconds (one day) so a tracker cannot park a torrent forever.
    public static let maxInterval = 86_400
    /// Interval used when a response omits `interval` (libtorrent's default).
    public static let defaultInterval = 1_800

    /// Percent-encodes bytes byte-exactly: RFC 3986 unreserved characters stay, every other byte becomes `%XX`
    /// (upper-case hex). This is how `info_hash` and `peer_id` must travel (BEP 3).
    public static func percentEncode(_ bytes: some Sequence<UInt8>) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The full announce URL: `announceURL` plus the BEP 3 query parameters (appended with `&` when the URL
    /// already has a query, as private trackers' passkey URLs do).
    public static func announceURL(_ announceURL: String, _ request: AnnounceRequest) -> String {
        var query: [String] = [
            "info_hash=" + percentEncode(request.infoHash),
            "peer_id=" + percentEncode(request.peerID),
            "port=\(request.port)",
            "uploaded=\(max(0, request.uploaded))",
            "downloaded=\(max(0, request.downloaded))",
            "left=\(max(0, request.left))",
        ]
        if request.compact { query.append("compact=1") }
        if let event = request.event.httpValue { query.append("event=" + event) }
        if let numWant = request.numWant { query.append("numwant=\(max(0, numWant))") }
        query.append("key=" + String(request.key, radix: 16, uppercase: true))
        if let trackerID = request.trackerID { query.append("trackerid=" + percentEncode(trackerID)) }
        query += request.encryption.queryParameters(port: request.port)
        return append(query, to: announceURL)
    }

    /// The scrape URL for an announce URL (BEP 48): only when the text after the last `/` of the path starts
    /// with `announce`, which is replaced by `scrape`; nil otherwise.
    public static func scrapeURL(forAnnounce announceURL: String) -> String? {
        let queryStart = announceURL.firstIndex(of: "?") ?? announceURL.endIndex
        let path = announceURL[..<queryStart]
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let lastComponent = path[path.index(after: slash)...]
        guard lastComponent.hasPrefix("announce") else { return nil }
        let rest = lastComponent.dropFirst("announce".count)
        return String(announceURL[...slash]) + "scrape" + rest + announceURL[queryStart...]
    }

    /// The scrape request URL asking for `infoHashes` (each 20 bytes).
    public static func scrapeRequestURL(_ scrapeURL: String, infoHashes: [[UInt8]]) -> String {
        append(infoHashes.map { "info_hash=" + percentEncode($0) }, to: scrapeURL)
    }

    private static func append(_ query: [String], to url: String) -> String {
        guard !query.isEmpty else { return url }
        let separator = url.contains("?") ? (url.hasSuffix("?") || url.hasSuffix("&") ? "" : "&") : "?"
        return url + separator + query.joined(separator: "&")
    }

    /// Parses an announce response body.
    /// - Throws: ``TrackerError`` `.trackerFailure` with the tracker's `failure reason`, or `.malformedResponse`.
    public static func parseAnnounceResponse(_ body: [UInt8]) throws(TrackerError) -> AnnounceResponse {
        let root = try dictionary(body)
        if let failure = root["failure reason"] {
            throw TrackerError(.trackerFailure, text(failure.bytes) ?? "tracker failure (no reason given)")
        }
        var response = AnnounceResponse(interval: defaultInterval)
        if let node = root["interval"] {
            guard let value = node.integer, value >= 0 else {
                throw TrackerError(.malformedResponse, "interval is not a non-negative integer")
            }
            response.interval = Int(min(value, Int64(maxInterval)))
        }
        if let value = root["min interval"]?.integer, value >= 0 {
            response.minInterval = Int(min(value, Int64(maxInterval)))
        }
        response.complete = count(root["complete"])
        response.incomplete = count(root["incomplete"])
        response.downloaded = count(root["downloaded"])
        response.warning = text(root["warning message"]?.bytes)
        response.trackerID = root["tracker id"]?.bytes.map(Array.init)

        var peers: [TrackerPeer] = []
        if let node = root["peers"] {
            switch node.kind {
            case .string:
                peers = TrackerPeer.decodeCompact(node.bytes!.prefix(maxPeers * 6), ipv6: false)
            case .list:
                for entry in node.list where peers.count < maxPeers {
                    guard entry.kind == .dictionary, let ip = text(entry["ip"]?.bytes), !ip.isEmpty, ip.count <= 255,
                        let port = entry["port"]?.integer, (0...65535).contains(port)
                    else { continue }
                    let id = entry["peer id"]?.bytes.map(Array.init)
                    peers.append(TrackerPeer(host: ip, port: Int(port), peerID: id))
                }
            default:
                throw TrackerError(.malformedResponse, "peers is neither a string nor a list")
            }
        }
        if let node = root["peers6"], let bytes = node.bytes {
            let room = max(0, maxPeers - peers.count)
            peers += TrackerPeer.decodeCompact(bytes.prefix(room * 18), ipv6: true)
        }
        response.peers = peers
        return response
    }

    /// Parses a scrape response body (BEP 48): one ``ScrapeResult`` per 20-byte key of `files`, in the
    /// response's order.
    /// - Throws: ``TrackerError`` `.trackerFailure` or `.malformedResponse`.
    public static func parseScrapeResponse(_ body: [UInt8]) throws(TrackerError) -> [ScrapeResult] {
        let root = try dictionary(body)
        if let failure = root["failure reason"] {
            throw TrackerError(.trackerFailure, text(failure.bytes) ?? "tracker failure (no reason given)")
        }
        guard let files = root["files"], files.kind == .dictionary else {
            throw TrackerError(.malformedResponse, "scrape response has no files dictionary")
        }
        var results: [ScrapeResult] = []
        for (key, value) in files.entries where key.count == 20 && value.kind == .dictionary {
            results.append(
                ScrapeResult(
                    infoHash: Array(key), complete: count(value["complete"]) ?? 0,
                    incomplete: count(value["incomplete"]) ?? 0, downloaded: count(value["downloaded"]) ?? 0))
        }
        return results
    }

    private static func dictionary(_ body: [UInt8]) throws(TrackerError) -> BencodeNode {
        let document: BencodeDocument
        do {
            // Trackers often send unsorted keys; the size cap is enforced by the transport.
            document = try BencodeDocument(body, options: BencodeDecodingOptions(allowUnsortedKeys: true, maxDepth: 16))
        } catch {
            throw TrackerError(.malformedResponse, "not bencode: \(error.reason) at byte \(error.offset)")
        }
        guard document.root.kind == .dictionary else {
            throw TrackerError(.malformedResponse, "response is not a bencoded dictionary")
        }
        return document.root
    }

    private static func count(_ node: BencodeNode?) -> Int? {
        guard let value = node?.integer, value >= 0 else { return nil }
        return Int(min(value, Int64(Int32.max)))
    }

    private static func text(_ bytes: ArraySlice<UInt8>?) -> String? {
        guard let bytes else { return nil }
        return String(decoding: bytes.prefix(1024), as: UTF8.self)
    }
}
