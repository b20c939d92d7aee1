/// A magnet link (BEP 9), with BEP 52 v2 hashes (`urn:btmh:`), web seeds (BEP 19 `ws`), peer addresses
/// (`x.pe`) and BEP 53 file selection (`so`).
///
/// ```swift
/// let magnet = try MagnetLink(parsing: "magnet:?xt=urn:btih:...&dn=Name&tr=udp%3A%2F%2Ft%3A80")
/// print(magnet.displayName ?? "", magnet.infoHashes)
/// let text = magnet.uri   // formats it back
/// ```
public struct MagnetLink: Hashable, Sendable, CustomStringConvertible {
    /// A peer address from `x.pe`: a host name, IPv4 or IPv6 address, and a port.
    public typealias Peer = HostAndPort

    /// The torrent's v1 and/or v2 info-hashes (both for a hybrid).
    public var infoHashes: InfoHashes
    /// Suggested name (`dn`).
    public var displayName: String?
    /// Tracker URLs (`tr`), in the order given.
    public var trackers: [String]
    /// Web seed URLs (`ws`).
    public var webSeeds: [String]
    /// Peers to contact directly (`x.pe`).
    public var peers: [Peer]
    /// BEP 53 `so`: indexes of the files to download, as ranges; nil when absent (download everything).
    public var selectOnly: [ClosedRange<Int>]?

    /// Most parameters accepted, and longest link, so a hostile link cannot exhaust memory.
    public static let maxParameters = 1_000
    /// Longest magnet link accepted, in bytes.
    public static let maxLength = 65_536

    /// Creates a magnet link.
    public init(
        infoHashes: InfoHashes, displayName: String? = nil, trackers: [String] = [], webSeeds: [String] = [],
        peers: [Peer] = [], selectOnly: [ClosedRange<Int>]? = nil
    ) {
        self.infoHashes = infoHashes
        self.displayName = displayName
        self.trackers = trackers
        self.webSeeds = webSeeds
        self.peers = peers
        self.selectOnly = selectOnly
    }

    /// The magnet link of a torrent: its info-hashes, name, trackers (all tiers, in order) and web seeds.
    public init(_ torrent: Torrent) {
        self.init(
            infoHashes: torrent.infoHashes, displayName: torrent.name, trackers: Array(torrent.announceTiers.joined()),
            webSeeds: torrent.webSeeds)
    }

    /// Parses a magnet link.
    ///
    /// `xt` may be `urn:btih:` with 40 hex or 32 base32 characters (v1), or `urn:btmh:1220` with 64 hex
    /// characters (v2, a SHA-256 multihash); a hybrid link has both. Values are percent-decoded (`+` is a
    /// space in `dn`). Unknown parameters are ignored, as BEP 9 asks.
    /// - Throws: ``MetainfoError`` with code ``MetainfoError/Code/invalidMagnet``.
    public init(parsing text: String) throws(MetainfoError) {
        let utf8 = Array(text.utf8)
        guard utf8.count <= Self.maxLength else { throw Self.error("the link is longer than \(Self.maxLength) bytes") }
        let prefix = Array("magnet:?".utf8)
        guard utf8.count >= prefix.count,
            zip(utf8[0..<prefix.count], prefix).allSatisfy({ Self.lower($0) == $1 })
        else { throw Self.error("a magnet link starts with 'magnet:?'") }

        var v1: [UInt8]?
        var v2: [UInt8]?
        var name: String?
        var trackers: [String] = []
        var webSeeds: [String] = []
        var peers: [Peer] = []
        var selectOnly: [ClosedRange<Int>]?
        let parameters = utf8[prefix.count...].split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true)
        guard parameters.count <= Self.maxParameters else {
            throw Self.error("more than \(Self.maxParameters) parameters")
        }
        for parameter in parameters {
            guard let equals = parameter.firstIndex(of: UInt8(ascii: "=")) else {
                throw Self.error("parameter '\(String(decoding: parameter, as: UTF8.self))' has no '='")
            }
            let key = Self.baseKey(String(decoding: parameter[parameter.startIndex..<equals], as: UTF8.self))
            let raw = parameter[(equals + 1)...]
            switch key {
            case "xt":
                let value = try Self.percentDecoded(raw, plusIsSpace: false)
                try Self.exactTopic(value, v1: &v1, v2: &v2)
            case "dn":
                let value = try Self.percentDecoded(raw, plusIsSpace: true)
                if !value.isEmpty { name = value }
            case "tr":
                let value = try Self.percentDecoded(raw, plusIsSpace: false)
                if !value.isEmpty && !trackers.contains(value) { trackers.append(value) }
            case "ws":
                let value = try Self.percentDecoded(raw, plusIsSpace: false)
                if !value.isEmpty && !webSeeds.contains(value) { webSeeds.append(value) }
            case "x.pe":
                peers.append(try Self.peer(try Self.percentDecoded(raw, plusIsSpace: false)))
            case "so":
                let ranges = try Self.selection(try Self.percentDecoded(raw, plusIsSpace: false))
                selectOnly = (selectOnly ?? []) + ranges
            default:
                continue
            }
        }
        guard v1 != nil || v2 != nil else {
            throw Self.error("no 'xt=urn:btih:' or 'xt=urn:btmh:' info-hash")
        }
        self.init(
            infoHashes: InfoHashes(v1: v1, v2: v2), displayName: name, trackers: trackers, webSeeds: webSeeds,
            peers: peers, selectOnly: selectOnly)
    }

    /// The link as text: `xt` (v1 as hex, then v2 as a multihash), `dn`, `tr`, `ws`, `x.pe`, `so`, with values
    /// percent-encoded.
    public var uri: String {
        var parts: [String] = []
        if let v1 = infoHashes.v1 { parts.append("xt=urn:btih:" + NetBitTorrentHex.encode(v1)) }
        if let v2 = infoHashes.v2 { parts.append("xt=urn:btmh:1220" + NetBitTorrentHex.encode(v2)) }
        if let displayName, !displayName.isEmpty { parts.append("dn=" + Self.percentEncoded(displayName)) }
        parts += trackers.map { "tr=" + Self.percentEncoded($0) }
        parts += webSeeds.map { "ws=" + Self.percentEncoded($0) }
        // libtorrent reads x.pe without percent-decoding, so ':' and brackets stay literal.
        parts += peers.map { "x.pe=" + Self.percentEncoded($0.description, keeping: ":[]") }
        if let selectOnly, !selectOnly.isEmpty {
            parts.append(
                "so="
                    + selectOnly.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
                    .joined(separator: ","))
        }
        return "magnet:?" + parts.joined(separator: "&")
    }

    /// Same as ``uri``.
    public var description: String { uri }

    // MARK: parsing helpers

    static func error(_ reason: String) -> MetainfoError {
        MetainfoError(.invalidMagnet, "invalid magnet link: \(reason)")
    }

    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// `xt.1` and `tr.2` (numbered variants from BEP 9) mean `xt` and `tr`.
    static func baseKey(_ key: String) -> String {
        guard let dot = key.lastIndex(of: "."), key[key.index(after: dot)...].allSatisfy(\.isNumber),
            key.index(after: dot) != key.endIndex
        else { return key }
        return String(key[..<dot])
    }

    static func exactTopic(_ value: String, v1: inout [UInt8]?, v2: inout [UInt8]?) throws(MetainfoError) {
        let lowered = value.lowercased()
        if lowered.hasPrefix("urn:btih:") {
            let hash = String(value.dropFirst(9))
            let bytes: [UInt8]?
            switch hash.utf8.count {
            case 40: bytes = NetBitTorrentHex.decode(hash)
            case 32: bytes = base32Decode(hash)
            default: throw error("urn:btih: needs 40 hex or 32 base32 characters, got \(hash.utf8.count)")
            }
            guard let bytes else { throw error("urn:btih: value '\(hash)' is not valid hex or base32") }
            if let v1, v1 != bytes { throw error("two different v1 info-hashes") }
            v1 = bytes
        } else if lowered.hasPrefix("urn:btmh:") {
            let hash = String(lowered.dropFirst(9))
            guard hash.hasPrefix("1220") else {
                throw error("urn:btmh: must be a SHA-256 multihash (prefix 1220)")
            }
            guard hash.utf8.count == 68, let bytes = NetBitTorrentHex.decode(hash.dropFirst(4)) else {
                throw error("urn:btmh: needs 64 hex characters after 1220")
            }
            if let v2, v2 != bytes { throw error("two different v2 info-hashes") }
            v2 = bytes
        }
        // Other exact topics (urn:ed2k:, urn:sha1: ...) are not BitTorrent's: ignored.
    }

    static func base32Decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt64 = 0
        var bits = 0
        for c in text.utf8 {
            let value: UInt8
            switch lower(c) {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = lower(c) - UInt8(ascii: "a")
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = c - UInt8(ascii: "2") + 26
            default: return nil
            }
            buffer = buffer << 5 | UInt64(value)
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt64(bits)))
            }
        }
        return out
    }

    static func percentDecoded(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) throws(MetainfoError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let c = bytes[index]
            if c == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex,
                    let decoded = NetBitTorrentHex.decode(
                        String(decoding: bytes[(index + 1)...(index + 2)], as: UTF8.self))
                else { throw error("bad percent escape") }
                out.append(decoded[0])
                index += 3
            } else {
                out.append(plusIsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
                index += 1
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw error("a value is not valid UTF-8") }
        return text
    }

    static func percentEncoded(_ text: String, keeping extra: String = "") -> String {
        var out = ""
        let keep = Set(extra.utf8)
        for byte in text.utf8 {
            switch byte {
            case _ where keep.contains(byte):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + NetBitTorrentHex.encode([byte]).uppercased()
            }
        }
        return out
    }

    static func peer(_ text: String) throws(MetainfoError) -> Peer {
        switch HostAndPort.parse(text) {
        case .success(let peer): return peer
        case .failure(.shape): throw error("x.pe '\(text)' is not host:port or [address]:port")
        case .failure(.host): throw error("x.pe '\(text)' has no valid host")
        case .failure(.port): throw error("x.pe '\(text)' has an invalid port")
        }
    }

    /// BEP 53: comma-separated file indexes and inclusive ranges, such as `0,2,4-6`.
    static func selection(_ text: String) throws(MetainfoError) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2 else { throw error("so item '\(item)' is not N or N-M") }
            var numbers: [Int] = []
            for bound in bounds {
                guard !bound.isEmpty, bound.utf8.count <= 9, bound.allSatisfy({ $0.isASCII && $0.isNumber }),
                    let number = Int(bound)
                else { throw error("so item '\(item)' is not N or N-M") }
                numbers.append(number)
            }
            guard numbers[0] <= numbers[numbers.count - 1] else { throw error("so range '\(item)' is backwards") }
            ranges.append(numbers[0]...numbers[numbers.count - 1])
            guard ranges.count <= maxParameters else { throw error("so has more than \(maxParameters) items") }
        }
        return ranges
    }
}
