import Foundation

/// What the daemon keeps in its config directory besides each torrent's .torrent file
/// (`torrents/HASH.torrent`) and the engine's resume data (`resume/HASH.resume`): the torrent list with
/// each torrent's settings, and the session's settings. The snapshot file (``fileName``) is written atomically
/// (a temporary file renamed over the old one); changes since are appended to a journal (`StateStore`).
struct DaemonState: Codable, Sendable, Hashable {
    /// One torrent's settings.
    struct Entry: Codable, Sendable, Hashable {
        var id: Int
        var hashString: String
        var downloadDir: String
        var paused: Bool
        var addedDate: Int64
        var doneDate: Int64 = 0
        var downloadLimit: Int = 100
        var downloadLimited: Bool = false
        var uploadLimit: Int = 100
        var uploadLimited: Bool = false
        var peerLimit: Int?
        /// Per file: wanted or not.
        var wanted: [Bool]
        /// Per file: Transmission's priority (-1, 0, 1).
        var priorities: [Int]
        /// The magnet URI it was added from (its files are known once `torrents/HASH.torrent` is there).
        var magnet: String?
        /// Labels (nil: none).
        var labels: [String]?
        /// The torrent's name after `torrent-rename-path` renamed its root (nil: the torrent's own).
        var name: String?
        /// Files renamed by `torrent-rename-path`: file index to path components below the download folder
        /// (the engine's resume data keeps them too; this is what the daemon lists).
        var renamedFiles: [Int: [String]]?
    }

    /// The format of the file.
    var formatVersion = 1
    /// The id the next added torrent gets.
    var nextID = 1
    /// The torrents, by id.
    var torrents = TorrentTable()
    /// The session's default download directory.
    var downloadDir: String
    /// Whether added torrents start.
    var startAddedTorrents = true
    /// The session's download limit in kB/s, and whether it holds.
    var speedLimitDown = 100
    var speedLimitDownEnabled = false
    /// The session's upload limit in kB/s, and whether it holds.
    var speedLimitUp = 100
    var speedLimitUpEnabled = false
    /// Where `blocklist-update` reads the blocklist ("" none), and whether it is applied.
    var blocklistURL = ""
    var blocklistEnabled = false
    /// The alternative ("turtle") limits in kB/s, and whether they hold instead of the usual ones.
    var altSpeedDown = 50
    var altSpeedUp = 50
    var altSpeedEnabled = false
    /// The most connections in total set by `session-set` (nil: the command line's).
    var peerLimitGlobal: Int?
    /// The most connections of each torrent added from now on, set by `session-set` (nil: the command
    /// line's); torrents already there keep theirs, as in Transmission.
    var peerLimitPerTorrent: Int?
    /// The encryption policy set by `session-set` (`required`, `preferred` or `tolerated`; nil: the command
    /// line's).
    var encryption: String?

    private enum CodingKeys: String, CodingKey {
        case formatVersion, nextID, torrents, downloadDir, startAddedTorrents
        case speedLimitDown, speedLimitDownEnabled, speedLimitUp, speedLimitUpEnabled
        case blocklistURL, blocklistEnabled, altSpeedDown, altSpeedUp, altSpeedEnabled, peerLimitGlobal
        case peerLimitPerTorrent, encryption
    }

    /// A fresh state.
    init(downloadDir: String) {
        self.downloadDir = downloadDir
    }

    /// Reads a state; keys added since it was written take their defaults.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try container.decode(Int.self, forKey: .formatVersion)
        nextID = try container.decode(Int.self, forKey: .nextID)
        torrents = try container.decode(TorrentTable.self, forKey: .torrents)
        downloadDir = try container.decode(String.self, forKey: .downloadDir)
        startAddedTorrents = try container.decodeIfPresent(Bool.self, forKey: .startAddedTorrents) ?? true
        speedLimitDown = try container.decodeIfPresent(Int.self, forKey: .speedLimitDown) ?? 100
        speedLimitDownEnabled = try container.decodeIfPresent(Bool.self, forKey: .speedLimitDownEnabled) ?? false
        speedLimitUp = try container.decodeIfPresent(Int.self, forKey: .speedLimitUp) ?? 100
        speedLimitUpEnabled = try container.decodeIfPresent(Bool.self, forKey: .speedLimitUpEnabled) ?? false
        blocklistURL = try container.decodeIfPresent(String.self, forKey: .blocklistURL) ?? ""
        blocklistEnabled = try container.decodeIfPresent(Bool.self, forKey: .blocklistEnabled) ?? false
        altSpeedDown = try container.decodeIfPresent(Int.self, forKey: .altSpeedDown) ?? 50
        altSpeedUp = try container.decodeIfPresent(Int.self, forKey: .altSpeedUp) ?? 50
        altSpeedEnabled = try container.decodeIfPresent(Bool.self, forKey: .altSpeedEnabled) ?? false
        peerLimitGlobal = try container.decodeIfPresent(Int.self, forKey: .peerLimitGlobal)
        peerLimitPerTorrent = try container.decodeIfPresent(Int.self, forKey: .peerLimitPerTorrent)
        encryption = try container.decodeIfPresent(String.self, forKey: .encryption)
    }

    /// The session's download limit in kB/s as it holds now (nil: none): the alternative one while it is on
    /// (whatever `speed-limit-down-enabled` says, as Transmission does), else the usual one when enabled.
    var effectiveDownloadLimit: Int? {
        altSpeedEnabled ? altSpeedDown : (speedLimitDownEnabled ? speedLimitDown : nil)
    }

    /// The session's upload limit in kB/s as it holds now (nil: none), as ``effectiveDownloadLimit``.
    var effectiveUploadLimit: Int? {
        altSpeedEnabled ? altSpeedUp : (speedLimitUpEnabled ? speedLimitUp : nil)
    }

    /// The state file's name in the config directory.
    static let fileName = "daemon-state.json"

    /// Reads the state of `configDir`, nil when there is none yet.
    /// - Throws: ``DaemonError`` (`stateFailed`) when the file exists but is not a state.
    static func load(from configDir: String) throws(DaemonError) -> DaemonState? {
        let path = configDir + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try decode(data)
        } catch {
            throw DaemonError(.stateFailed, "\(path) is not a daemon state: \(error)")
        }
    }

    /// Ids (and the next one) are positive and far from overflow, as the daemon hands them out.
    static let idRange = 1...Int(Int32.max)

    /// A state from its JSON, its ids checked (a corrupt file could otherwise make the next id overflow).
    static func decode(_ data: Data) throws -> DaemonState {
        let state = try JSONDecoder().decode(DaemonState.self, from: data)
        guard idRange.contains(state.nextID), state.torrents.allSatisfy({ idRange.contains($0.id) }) else {
            throw DaemonError(.stateFailed, "torrent ids out of range")
        }
        return state
    }

    /// Writes the state to `configDir` atomically.
    func save(to configDir: String) throws(DaemonError) {
        let path = configDir + "/" + Self.fileName
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DaemonError(.stateFailed, "cannot write \(path): \(error)")
        }
    }
}
