import BTMetainfo

/// A 20-byte peer id (BEP 3), with the Azureus-style client naming used by almost every client (BEP 20).
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    /// The 20 bytes.
    public let bytes: [UInt8]

    /// Wraps 20 bytes; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 20 else { return nil }
        self.bytes = Array(bytes)
    }

    /// A fresh id for this client: `-NB0100-` followed by 12 bytes from the system's secure random source
    /// (`SystemRandomNumberGenerator` reads getrandom(2) / arc4random), so ids cannot be predicted.
    public static func generate() -> PeerID {
        var generator = SystemRandomNumberGenerator()
        return generate(prefix: localPrefix, using: &generator)
    }

    /// An id with the given Azureus-style `prefix` (at most 20 bytes) followed by random bytes from
    /// `generator` (tests pass a seeded generator).
    public static func generate(prefix: [UInt8], using generator: inout some RandomNumberGenerator) -> PeerID {
        precondition(prefix.count <= 20, "a peer id prefix is at most 20 bytes")
        var bytes = prefix
        while bytes.count < 20 { bytes.append(UInt8.random(in: 0...255, using: &generator)) }
        return PeerID(bytes: bytes)!
    }

    /// `-NB0100-`: NetBitTorrent 0.1.0.0 in the Azureus style (client code `NB`, four version digits).
    public static let localPrefix: [UInt8] = Array("-NB0100-".utf8)

    /// The client that made this id, when it follows a well-known convention; nil otherwise.
    public var client: PeerClient? { PeerClient(peerID: bytes) }

    /// Lower-case hex of the 20 bytes.
    public var description: String { NetBitTorrentHex.encode(bytes) }
}

/// A client name and version decoded from a peer id, for display only (ids are easy to forge).
public struct PeerClient: Hashable, Sendable, CustomStringConvertible {
    /// Human name of the client (`libtorrent`, `Transmission`, ...), or the raw two-letter code if unknown.
    public let name: String
    /// Version as the id spells it (`2.0.8.0`, `3.00`, `1.36.0`).
    public let version: String

    /// Names of the Azureus-style two-letter client codes this module recognises.
    static let azureusNames: [String: String] = [
        "LT": "libtorrent", "lt": "libTorrent (rakshasa)", "TR": "Transmission", "qB": "qBittorrent",
        "UT": "µTorrent", "UM": "µTorrent Mac", "DE": "Deluge", "AZ": "Vuze", "BT": "BitTorrent",
        "KT": "KTorrent", "BC": "BitComet", "NB": "NetBitTorrent", "FD": "Free Download Manager",
        "XL": "Xunlei", "BI": "BiglyBT", "WW": "WebTorrent", "lr": "LibreTorrent", "TX": "Tixati",
        "FW": "FrostWire", "SD": "Thunder", "PI": "PicoTorrent", "RZ": "RezTorrent",
    ]

    /// Decodes a peer id; nil when it follows no known convention.
    init?(peerID: [UInt8]) {
        guard peerID.count == 20 else { return nil }
        func ascii(_ range: Range<Int>) -> String? {
            let slice = peerID[range]
            guard slice.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else { return nil }
            return String(decoding: slice, as: UTF8.self)
        }
        // Azureus style: '-' two letters four version characters '-'.
        if peerID[0] == UInt8(ascii: "-"), peerID[7] == UInt8(ascii: "-"), let code = ascii(1..<3),
            let digits = ascii(3..<7), code.allSatisfy({ $0.isLetter })
        {
            let name = Self.azureusNames[code] ?? code
            self.init(name: name, version: Self.azureusVersion(code: code, digits: digits))
            return
        }
        // aria2: "A2-" major "-" minor "-" patch "-" (e.g. `A2-1-36-0-`).
        if peerID.starts(with: Array("A2-".utf8)) {
            let text = String(decoding: peerID[3...].prefix { $0 >= 0x20 && $0 < 0x7f }, as: UTF8.self)
            let parts = text.split(separator: "-", omittingEmptySubsequences: true).prefix(3)
            let version = parts.allSatisfy({ $0.allSatisfy(\.isNumber) }) ? parts.joined(separator: ".") : ""
            self.init(name: "aria2", version: version)
            return
        }
        // Shad0w style (single letter then version characters then dashes), e.g. `M4-4-0--` Mainline.
        if peerID[0] == UInt8(ascii: "M"), peerID[2] == UInt8(ascii: "-"), let text = ascii(1..<8) {
            let version = text.split(separator: "-").filter { !$0.isEmpty }.joined(separator: ".")
            self.init(name: "Mainline", version: version)
            return
        }
        return nil
    }

    /// Creates a description.
    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }

    /// Each client spells its four version characters its own way.
    static func azureusVersion(code: String, digits: String) -> String {
        let chars = Array(digits)
        func value(_ c: Character) -> String {
            // libtorrent and others use A-Z for 10-35.
            if let d = c.wholeNumberValue { return String(d) }
            if let a = c.asciiValue, a >= 65 && a <= 90 { return String(Int(a) - 55) }
            return String(c)
        }
        switch code {
        case "TR":
            // Transmission: `300Z` is 3.00; `0090` was 0.90 (old scheme).
            if chars[0] == "0" { return "0.\(String(chars[1...2]))" }
            return "\(chars[0]).\(String(chars[1...2]))"
        case "qB", "DE":
            // qBittorrent/Deluge: `4500` is 4.5.0, `2110` is 2.1.1.
            return "\(value(chars[0])).\(value(chars[1])).\(value(chars[2]))"
        case "UT", "UM":
            // µTorrent: `355B` is 3.5.5 build letter.
            return "\(value(chars[0])).\(value(chars[1])).\(value(chars[2]))"
        default:
            return chars.map(value).joined(separator: ".")
        }
    }

    /// `name version`.
    public var description: String { version.isEmpty ? name : "\(name) \(version)" }
}
