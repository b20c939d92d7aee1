/// A local service discovery announce (BEP 14): an HTTP-like `BT-SEARCH` request multicast on the local
/// network, naming our listen port and torrents.
///
/// ```
/// BT-SEARCH * HTTP/1.1\r\n
/// Host: 239.192.152.143:6771\r\n
/// Port: 6881\r\n
/// Infohash: 0123456789abcdef0123456789abcdef01234567\r\n
/// cookie: 5a3e91\r\n
/// \r\n
/// \r\n
/// ```
///
/// ``encoded()`` writes it as libtorrent does (`lsd.cpp`, `render_lsd_packet`: header names in this case, a
/// lower-case `cookie`, an extra CRLF at the end), with one `Infohash` line per torrent (BEP 14 allows several).
/// ``init(parsing:)`` is strict and bounded: at most ``maximumLength`` bytes, ``maximumHeaders`` header lines
/// of at most ``maximumLineLength`` bytes, header names compared without case, as libtorrent's parser does.
public struct LocalDiscoveryMessage: Hashable, Sendable {
    /// The multicast group and port the message is sent to (BEP 14).
    public enum Group: Hashable, Sendable, CaseIterable {
        /// 239.192.152.143:6771.
        case ipv4
        /// [ff15::efc0:988f]:6771.
        case ipv6

        /// The group's address, as text.
        public var address: String {
            switch self {
            case .ipv4: "239.192.152.143"
            case .ipv6: "ff15::efc0:988f"
            }
        }

        /// The `Host` header's value: the group and port, an IPv6 address in brackets.
        public var host: String {
            switch self {
            case .ipv4: "\(address):\(LocalDiscoveryMessage.port)"
            case .ipv6: "[\(address)]:\(LocalDiscoveryMessage.port)"
            }
        }
    }

    /// The UDP port of both multicast groups (BEP 14).
    public static let port = 6771
    /// The largest datagram accepted (BEP 14 keeps announces within one unfragmented UDP packet).
    public static let maximumLength = 1400
    /// The most header lines accepted.
    public static let maximumHeaders = 32
    /// The longest line accepted, CRLF excluded.
    public static let maximumLineLength = 256
    /// The longest cookie accepted.
    public static let maximumCookieLength = 64

    /// The group named by the `Host` header (nil when absent or not one of the two: not checked, as libtorrent
    /// does not check it).
    public var group: Group?
    /// The TCP (and uTP) port the sender takes connections on.
    public var port: UInt16
    /// The torrents announced (20-byte info-hashes; a v2 torrent's is its truncated SHA-256, as BEP 52 does
    /// for the wire).
    public var infoHashes: [[UInt8]]
    /// The sender's random token, so that a client recognises and ignores its own announces.
    public var cookie: String?

    /// A message.
    public init(group: Group?, port: UInt16, infoHashes: [[UInt8]], cookie: String?) {
        self.group = group
        self.port = port
        self.infoHashes = infoHashes
        self.cookie = cookie
    }

    /// The message's bytes.
    public func encoded() -> [UInt8] {
        var text = "BT-SEARCH * HTTP/1.1\r\n"
        if let group { text += "Host: \(group.host)\r\n" }
        text += "Port: \(port)\r\n"
        for hash in infoHashes { text += "Infohash: \(Self.hex(hash))\r\n" }
        if let cookie { text += "cookie: \(cookie)\r\n" }
        text += "\r\n\r\n"
        return Array(text.utf8)
    }

    /// Parses a datagram.
    /// - Throws: ``TrackerError`` with code ``TrackerError/Code/malformedPacket`` when the datagram is too long,
    ///   is not a `BT-SEARCH * HTTP/1.x` request with a complete header, has too many or too long lines, lacks a
    ///   valid `Port` (1–65535), names no valid info-hash (40 hex digits), or repeats `Port` or `cookie`.
    public init(parsing bytes: some Collection<UInt8>) throws(TrackerError) {
        guard bytes.count <= Self.maximumLength else {
            throw Self.malformed("\(bytes.count) bytes, more than \(Self.maximumLength)")
        }
        let bytes = Array(bytes)
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var ended = false
        while start < bytes.count {
            guard let newline = bytes[start...].firstIndex(of: 0x0A) else { break }
            var line = bytes[start..<newline]
            if line.last == 0x0D { line = line.dropLast() }
            start = newline + 1
            if line.isEmpty {
                ended = true
                break
            }
            guard line.count <= Self.maximumLineLength else {
                throw Self.malformed("a line of \(line.count) bytes, more than \(Self.maximumLineLength)")
            }
            guard lines.count <= Self.maximumHeaders else {
                throw Self.malformed("more than \(Self.maximumHeaders) header lines")
            }
            lines.append(line)
        }
        guard ended, let requestLine = lines.first else { throw Self.malformed("incomplete header") }
        let request = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard request.count == 3, Self.text(request[0]).lowercased() == "bt-search", Self.text(request[1]) == "*",
            Self.text(request[2]).hasPrefix("HTTP/1.")
        else { throw Self.malformed("not a BT-SEARCH * HTTP/1.x request") }

        var group: Group?
        var port: UInt16?
        var cookie: String?
        var sawCookie = false
        var hashes: [[UInt8]] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 0x3A) else { throw Self.malformed("a header line without a colon") }
            let name = Self.text(line[..<colon]).lowercased()
            let value = Self.trimmed(line[(colon + 1)...])
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw Self.malformed("an invalid header name")
            }
            switch name {
            case "host":
                group = Group.allCases.first { $0.host == Self.text(value) }
            case "port":
                guard port == nil else { throw Self.malformed("two Port headers") }
                guard value.count <= 5, !value.isEmpty, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                    let number = Int(Self.text(value)), number > 0, number <= 65535
                else { throw Self.malformed("an invalid Port \(Self.text(value))") }
                port = UInt16(number)
            case "infohash":
                // libtorrent skips an info-hash that is not 40 characters and keeps the others.
                if let hash = Self.unhex(value) { hashes.append(hash) }
            case "cookie":
                guard !sawCookie else { throw Self.malformed("two cookie headers") }
                sawCookie = true
                guard value.count <= Self.maximumCookieLength else { throw Self.malformed("a cookie too long") }
                // Only visible ASCII is kept: a cookie is ours only if it is the text we sent, and other bytes
                // (invalid UTF-8, control characters) would not survive re-encoding (found by fuzzing).
                if value.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) { cookie = Self.text(value) }
            default:
                continue
            }
        }
        guard let port else { throw Self.malformed("no Port header") }
        guard !hashes.isEmpty else { throw Self.malformed("no valid Infohash header") }
        self.init(group: group, port: port, infoHashes: hashes, cookie: cookie)
    }

    // MARK: Helpers

    private static func malformed(_ reason: String) -> TrackerError {
        TrackerError(.malformedPacket, "local discovery message: \(reason)")
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return slice
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// 40 hex digits (either case) as 20 bytes; nil for anything else.
    private static func unhex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count == 40 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        var result: [UInt8] = []
        result.reserveCapacity(20)
        var index = text.startIndex
        while index < text.endIndex {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            result.append(high << 4 | low)
            index += 2
        }
        return result
    }
}
