import BTMetainfo

/// BEP 15 UDP tracker packets, both directions, encoded and decoded without I/O.
///
/// Every count has a maximum: a scrape asks for at most ``maxScrapeHashes`` info-hashes, and a response is
/// read only as far as its datagram goes.
public enum UDPTrackerPacket: Hashable, Sendable {
    /// The magic `protocol_id` of a connect request.
    public static let protocolID: UInt64 = 0x417_2710_1980
    /// Most info-hashes in one scrape request (BEP 15: about 74 fit in a packet).
    public static let maxScrapeHashes = 74
    /// Largest datagram accepted.
    public static let maxDatagram = 65_507

    /// Client to tracker: ask for a connection id (action 0).
    case connectRequest(transactionID: UInt32)
    /// Tracker to client: the connection id (action 0).
    case connectResponse(transactionID: UInt32, connectionID: UInt64)
    /// Client to tracker: announce (action 1), with BEP 41 URL data (path and query of the tracker URL).
    case announceRequest(connectionID: UInt64, transactionID: UInt32, AnnounceRequest, urlData: [UInt8])
    /// Tracker to client: interval, leechers, seeders and peers (action 1).
    case announceResponse(
        transactionID: UInt32, interval: UInt32, leechers: UInt32, seeders: UInt32, peers: [TrackerPeer])
    /// Client to tracker: scrape (action 2).
    case scrapeRequest(connectionID: UInt64, transactionID: UInt32, infoHashes: [[UInt8]])
    /// Tracker to client: seeders, completed and leechers per requested hash, in request order (action 2).
    case scrapeResponse(transactionID: UInt32, entries: [ScrapeCounts])
    /// Tracker to client: an error message (action 3).
    case error(transactionID: UInt32, message: String)

    /// Counts of one scrape response entry.
    public struct ScrapeCounts: Hashable, Sendable {
        /// Seeders.
        public var seeders: UInt32
        /// Completed downloads.
        public var completed: UInt32
        /// Leechers.
        public var leechers: UInt32
        /// Creates counts.
        public init(seeders: UInt32, completed: UInt32, leechers: UInt32) {
            self.seeders = seeders
            self.completed = completed
            self.leechers = leechers
        }
    }

    /// The transaction id every packet carries.
    public var transactionID: UInt32 {
        switch self {
        case .connectRequest(let t), .connectResponse(let t, _), .announceRequest(_, let t, _, _),
            .announceResponse(let t, _, _, _, _), .scrapeRequest(_, let t, _), .scrapeResponse(let t, _),
            .error(let t, _):
            t
        }
    }

    /// The packet's bytes.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .connectRequest(let transaction):
            put(&out, UDPTrackerPacket.protocolID)
            put(&out, UInt32(0))
            put(&out, transaction)
        case .connectResponse(let transaction, let connection):
            put(&out, UInt32(0))
            put(&out, transaction)
            put(&out, connection)
        case .announceRequest(let connection, let transaction, let request, let urlData):
            put(&out, connection)
            put(&out, UInt32(1))
            put(&out, transaction)
            out += request.infoHash.prefix(20) + Array(repeating: 0, count: max(0, 20 - request.infoHash.count))
            out += request.peerID.prefix(20) + Array(repeating: 0, count: max(0, 20 - request.peerID.count))
            put(&out, UInt64(clamping: max(0, request.downloaded)))
            put(&out, UInt64(clamping: max(0, request.left)))
            put(&out, UInt64(clamping: max(0, request.uploaded)))
            put(&out, request.event.rawValue)
            put(&out, UInt32(0))  // IP: the sender's address
            put(&out, request.key)
            put(&out, request.numWant.map { UInt32(clamping: max(0, $0)) } ?? UInt32.max)
            out.append(UInt8(truncatingIfNeeded: request.port >> 8))
            out.append(UInt8(truncatingIfNeeded: request.port))
            // BEP 41: URLData options, at most 255 bytes each.
            var rest = urlData[...]
            while !rest.isEmpty {
                let chunk = rest.prefix(255)
                out += [2, UInt8(chunk.count)] + chunk
                rest = rest.dropFirst(chunk.count)
            }
        case .announceResponse(let transaction, let interval, let leechers, let seeders, let peers):
            put(&out, UInt32(1))
            put(&out, transaction)
            put(&out, interval)
            put(&out, leechers)
            put(&out, seeders)
            for peer in peers { out += IPAddress(peer.host)?.bytes ?? []; putPort(&out, peer.port) }
        case .scrapeRequest(let connection, let transaction, let hashes):
            put(&out, connection)
            put(&out, UInt32(2))
            put(&out, transaction)
            for hash in hashes { out += hash }
        case .scrapeResponse(let transaction, let entries):
            put(&out, UInt32(2))
            put(&out, transaction)
            for entry in entries {
                put(&out, entry.seeders)
                put(&out, entry.completed)
                put(&out, entry.leechers)
            }
        case .error(let transaction, let message):
            put(&out, UInt32(3))
            put(&out, transaction)
            out += Array(message.utf8)
        }
        return out
    }

    /// Decodes a packet a tracker sent. `ipv6` says whether it arrived over IPv6, which decides the peer
    /// format of an announce response (BEP 15: 18-byte entries over IPv6, 6-byte entries over IPv4).
    /// A trailing partial peer or scrape entry is ignored.
    /// - Throws: ``TrackerError`` `.malformedPacket` when the packet is too short or its action unknown.
    public static func decodeResponse(_ bytes: some Collection<UInt8>, ipv6: Bool) throws(TrackerError)
        -> UDPTrackerPacket
    {
        var reader = Reader(Array(bytes.prefix(maxDatagram)))
        guard let action = reader.u32(), let transaction = reader.u32() else {
            throw TrackerError(.malformedPacket, "packet shorter than 8 bytes")
        }
        switch action {
        case 0:
            guard let connection = reader.u64() else { throw TrackerError(.malformedPacket, "short connect response") }
            return .connectResponse(transactionID: transaction, connectionID: connection)
        case 1:
            guard let interval = reader.u32(), let leechers = reader.u32(), let seeders = reader.u32() else {
                throw TrackerError(.malformedPacket, "short announce response")
            }
            let peers = TrackerPeer.decodeCompact(reader.rest, ipv6: ipv6)
            return .announceResponse(
                transactionID: transaction, interval: interval, leechers: leechers, seeders: seeders, peers: peers)
        case 2:
            var entries: [ScrapeCounts] = []
            while entries.count < maxScrapeHashes, let s = reader.u32(), let c = reader.u32(), let l = reader.u32() {
                entries.append(ScrapeCounts(seeders: s, completed: c, leechers: l))
            }
            return .scrapeResponse(transactionID: transaction, entries: entries)
        case 3:
            return .error(transactionID: transaction, message: Self.errorMessage(reader.rest))
        default:
            throw TrackerError(.malformedPacket, "unknown action \(action)")
        }
    }

    /// Most UTF-8 bytes of an error message kept.
    static let maximumErrorMessageBytes = 1024

    /// The text of an error packet: its first ``maximumErrorMessageBytes`` bytes, invalid UTF-8 replaced by
    /// U+FFFD, then cut on a scalar boundary to at most that many bytes of UTF-8. The cut comes after the
    /// replacement, which can lengthen the text (one 0xFF byte becomes three bytes): so the message encodes
    /// to bytes that decode to the same message (found by FuzzTrackerUDP).
    static func errorMessage(_ bytes: some Collection<UInt8>) -> String {
        let decoded = String(decoding: bytes.prefix(maximumErrorMessageBytes), as: UTF8.self)
        guard decoded.utf8.count > maximumErrorMessageBytes else { return decoded }
        var kept = String.UnicodeScalarView()
        var length = 0
        for scalar in decoded.unicodeScalars {
            length += UTF8.width(scalar)
            if length > maximumErrorMessageBytes { break }
            kept.append(scalar)
        }
        return String(kept)
    }

    /// Decodes a packet a client sent (for trackers, test fakes and fuzzing).
    /// - Throws: ``TrackerError`` `.malformedPacket`.
    public static func decodeRequest(_ bytes: some Collection<UInt8>) throws(TrackerError) -> UDPTrackerPacket {
        var reader = Reader(Array(bytes.prefix(maxDatagram)))
        guard let connection = reader.u64(), let action = reader.u32(), let transaction = reader.u32() else {
            throw TrackerError(.malformedPacket, "request shorter than 16 bytes")
        }
        switch action {
        case 0:
            guard connection == protocolID, reader.isAtEnd else {
                throw TrackerError(.malformedPacket, "connect request without the protocol id or with extra bytes")
            }
            return .connectRequest(transactionID: transaction)
        case 1:
            guard let infoHash = reader.bytes(20), let peerID = reader.bytes(20), let downloaded = reader.u64(),
                let left = reader.u64(), let uploaded = reader.u64(), let eventCode = reader.u32(),
                let event = AnnounceEvent(rawValue: eventCode), let ip = reader.u32(), ip == 0,
                let key = reader.u32(), let numWant = reader.u32(), let port = reader.u16(),
                downloaded <= UInt64(Int64.max), left <= UInt64(Int64.max), uploaded <= UInt64(Int64.max)
            else { throw TrackerError(.malformedPacket, "malformed announce request") }
            var urlData: [UInt8] = []
            // BEP 41 options; only the canonical form (URLData chunks of 255 bytes, then a shorter one) is accepted
            // so that encoding gives the input back.
            while !reader.isAtEnd {
                guard let type = reader.u8(), type == 2, let length = reader.u8(), length > 0,
                    let data = reader.bytes(Int(length)), urlData.count % 255 == 0
                else { throw TrackerError(.malformedPacket, "unsupported BEP 41 option") }
                urlData += data
            }
            let request = AnnounceRequest(
                infoHash: infoHash, peerID: peerID, port: Int(port), uploaded: Int64(uploaded),
                downloaded: Int64(downloaded), left: Int64(left), event: event,
                numWant: numWant == UInt32.max ? nil : Int(numWant), key: key)
            return .announceRequest(connectionID: connection, transactionID: transaction, request, urlData: urlData)
        case 2:
            var hashes: [[UInt8]] = []
            while let hash = reader.bytes(20) { hashes.append(hash) }
            guard reader.isAtEnd, !hashes.isEmpty, hashes.count <= maxScrapeHashes else {
                throw TrackerError(.malformedPacket, "scrape request must hold 1 to 74 whole info-hashes")
            }
            return .scrapeRequest(connectionID: connection, transactionID: transaction, infoHashes: hashes)
        default:
            throw TrackerError(.malformedPacket, "unknown request action \(action)")
        }
    }

    private func put(_ out: inout [UInt8], _ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    private func put(_ out: inout [UInt8], _ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    private func putPort(_ out: inout [UInt8], _ port: Int) {
        out.append(UInt8(truncatingIfNeeded: port >> 8))
        out.append(UInt8(truncatingIfNeeded: port))
    }

    /// A bounds-checked big-endian reader: a short read returns nil and moves nothing.
    private struct Reader {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var isAtEnd: Bool { offset == bytes.count }
        var rest: ArraySlice<UInt8> { bytes[offset...] }
        mutating func bytes(_ count: Int) -> [UInt8]? {
            guard bytes.count - offset >= count else { return nil }
            defer { offset += count }
            return Array(bytes[offset..<(offset + count)])
        }
        mutating func u8() -> UInt8? { bytes(1)?[0] }
        mutating func u16() -> UInt16? { bytes(2).map { UInt16($0[0]) << 8 | UInt16($0[1]) } }
        mutating func u32() -> UInt32? { bytes(4).map { $0.reduce(0) { $0 << 8 | UInt32($1) } } }
        mutating func u64() -> UInt64? { bytes(8).map { $0.reduce(0) { $0 << 8 | UInt64($1) } } }
    }
}
