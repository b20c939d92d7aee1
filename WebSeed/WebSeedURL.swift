import BTMetainfo
import BTTracker

/// A web seed's base URL (BEP 19 `url-list` entry) and the file URLs the BEP derives from it.
///
/// BEP 19 and libtorrent's `web_peer_connection`:
/// - single-file torrent: the URL names the file itself, unless it ends in `/`, in which case the torrent's
///   name is appended;
/// - multi-file torrent: the URL names the torrent's root folder (a missing trailing `/` is added, as
///   libtorrent does for such torrents), and a file is `URL` + name + `/` + its path elements;
/// - every appended element is percent-encoded as libtorrent's `escape_path` does: letters, digits and
///   `-_!.~*()` stay, every other byte (UTF-8) becomes `%XX`, and `/` only separates elements.
///
/// ```swift
/// let seed = try WebSeedURL("http://example.com/files/")
/// seed.fileURL(torrentName: "My Album", path: ["CD 1", "01 #1.flac"], isSingleFile: false)
/// // http://example.com/files/My%20Album/CD%201/01%20%231.flac
/// ```
public struct WebSeedURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL as the torrent gives it.
    public let text: String
    /// The URL parsed (scheme, host, port, path); the scheme is `http` or `https`.
    public let parsed: TrackerURL

    /// Parses `text`.
    /// - Throws: ``WebSeedError`` with code ``WebSeedError/Code/invalidURL`` for anything but an `http(s)` URL.
    public init(_ text: String) throws(WebSeedError) {
        let parsed: TrackerURL
        do {
            parsed = try TrackerURL(text)
        } catch {
            throw WebSeedError(.invalidURL, "\(text.prefix(200)): \(error.reason)")
        }
        guard parsed.scheme == .http || parsed.scheme == .https else {
            throw WebSeedError(.invalidURL, "\(text.prefix(200)): a web seed is http or https")
        }
        self.text = text
        self.parsed = parsed
    }

    /// The URL of a torrent's file, by BEP 19's rules (see the type's documentation). `path` is the file's path
    /// below the torrent's root folder as the torrent names it (`TorrentFile.originalPath`).
    public func fileURL(torrentName: String, path: [String], isSingleFile: Bool) -> String {
        if isSingleFile {
            return text.hasSuffix("/") ? text + Self.escape(torrentName) : text
        }
        let base = text.hasSuffix("/") ? text : text + "/"
        return base + ([torrentName] + path).map(Self.escape).joined(separator: "/")
    }

    /// The URL of file `index` of `torrent`.
    public func fileURL(of torrent: Torrent, file index: Int) -> String {
        fileURL(torrentName: torrent.name, path: torrent.files[index].originalPath, isSingleFile: torrent.isSingleFile)
    }

    /// One path element percent-encoded (libtorrent's `escape_path` without `/`): RFC 3986 unreserved letters,
    /// digits and `-_!.~*()` stay, every other UTF-8 byte becomes `%XX` (upper-case hex).
    public static func escape(_ element: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(element.utf8.count)
        for byte in element.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "!"),
                UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "*"), UInt8(ascii: "("), UInt8(ascii: ")"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The URL as given.
    public var description: String { text }
}
