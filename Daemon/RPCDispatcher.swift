import Foundation

/// Answers Transmission RPC requests (`docs/rpc-spec.md`) from a ``DaemonBackend``: checks and converts the
/// arguments, resolves `ids`, and shapes the answer. It holds no state and does no I/O of its own, so tests
/// drive it with a model backend and no sockets.
public struct RPCDispatcher: Sendable {
    /// The client the requests act on.
    public let backend: any DaemonBackend
    /// The RPC version reported by `session-get` (17: Transmission 4.0's, whose names the original form uses).
    public static let rpcVersion: Int64 = 17

    /// Most ids, fields or file indexes in one argument; more is refused as an absurd argument.
    static let maximumListLength = 100_000
    /// Highest speed limit accepted, in kB/s (about 1 TB/s).
    static let maximumSpeedLimit: Int64 = 1_000_000_000
    /// Highest `peer-limit-global` accepted (each connection is a socket: more than file descriptors allow is
    /// absurd).
    static let maximumPeerLimit: Int64 = 65_535
    /// Longest path, URL or label accepted, in UTF-8 bytes.
    static let maximumPathBytes = 4096
    /// Most trackers or labels in one argument.
    static let maximumTrackers = 1000

    /// A dispatcher over `backend`.
    public init(backend: any DaemonBackend) {
        self.backend = backend
    }

    /// Parses an HTTP body and answers it; bad input is answered with Transmission's error result, never
    /// thrown.
    public func handle(body: some Collection<UInt8>) async -> RPCResponse {
        do {
            return await handle(try RPCRequest.parse(body))
        } catch {
            return RPCResponse(.failure(error.error), form: error.form)
        }
    }

    /// Answers one request.
    public func handle(_ request: RPCRequest) async -> RPCResponse {
        do {
            return RPCResponse(.success(try await perform(request)), form: request.form)
        } catch {
            return RPCResponse(.failure(error), form: request.form)
        }
    }

    private func perform(_ request: RPCRequest) async throws(DaemonError) -> [String: JSONValue] {
        let arguments = request.arguments
        switch request.method {
        case "session_get": return try await sessionGet(arguments)
        case "session_set":
            try await sessionSet(arguments)
            return [:]
        case "session_stats": return await sessionStats()
        case "torrent_get": return try await torrentGet(arguments)
        case "torrent_add": return try await torrentAdd(arguments)
        case "torrent_start", "torrent_start_now":
            try await backend.start(ids: try await ids(arguments), now: request.method == "torrent_start_now")
            return [:]
        case "torrent_stop":
            try await backend.stop(ids: try await ids(arguments))
            return [:]
        case "torrent_verify":
            try await backend.verify(ids: try await ids(arguments))
            return [:]
        case "torrent_reannounce":
            try await backend.reannounce(ids: try await ids(arguments))
            return [:]
        case "torrent_remove":
            let delete = try bool(arguments, "delete_local_data") ?? false
            try await backend.remove(ids: try await ids(arguments), deleteData: delete)
            return [:]
        case "torrent_set":
            try await backend.set(ids: try await ids(arguments), try torrentChanges(arguments))
            return [:]
        case "torrent_set_location":
            guard let location = arguments["location"]?.stringValue, location.hasPrefix("/"),
                location.utf8.count <= Self.maximumPathBytes
            else { throw DaemonError(.invalidArgument, "location must be an absolute path") }
            let move = try bool(arguments, "move") ?? false
            try await backend.setLocation(ids: try await ids(arguments), location: location, move: move)
            return [:]
        case "torrent_rename_path":
            return try await renamePath(arguments)
        case "blocklist_update":
            return ["blocklist-size": .int(Int64(try await backend.updateBlocklist()))]
        case "free_space":
            guard let path = arguments["path"]?.stringValue else {
                throw DaemonError(.invalidArgument, "directory path argument is missing")
            }
            guard path.hasPrefix("/") else { throw DaemonError(.invalidArgument, "directory path is not absolute") }
            let space = try await backend.freeSpace(at: path)
            return ["path": .string(path), "size-bytes": .int(space.free), "total_size": .int(space.total)]
        case "port_test":
            return ["port-is-open": .bool(await backend.portTest())]
        case "session_close":
            await backend.close()
            return [:]
        default:
            throw DaemonError(.unknownMethod, "method name not recognized")
        }
    }

    // MARK: Arguments

    /// The torrent ids an `ids` argument names (§3.1): absent means all; a number; an array of numbers and
    /// hex hash strings; `recently_active`.
    func ids(_ arguments: [String: JSONValue]) async throws(DaemonError) -> [Int] {
        let known = await backend.torrentIDs()
        guard let value = arguments["ids"] else { return known.map(\.id) }
        switch value {
        case .string(let text) where RPCKeys.snake(text) == "recently_active":
            return known.map(\.id)
        case .string(let text):
            return try match([.string(text)], in: known)
        case .array(let elements):
            guard elements.count <= Self.maximumListLength else {
                throw DaemonError(.invalidArgument, "too many ids (\(elements.count))")
            }
            return try match(elements, in: known)
        default:
            guard let number = value.intValue else { throw DaemonError(.invalidArgument, "ids must be ids or hashes") }
            return known.contains { Int64($0.id) == number } ? [Int(number)] : []
        }
    }

    private func match(_ elements: [JSONValue], in known: [(id: Int, hashString: String)]) throws(DaemonError)
        -> [Int]
    {
        var byHash: [String: Int] = [:]
        for torrent in known { byHash[torrent.hashString.lowercased()] = torrent.id }
        let ids = Set(known.map(\.id))
        var result: [Int] = []
        var seen: Set<Int> = []
        for element in elements {
            var id: Int?
            if let number = element.intValue {
                id = number >= 0 && number <= Int64(Int32.max) && ids.contains(Int(number)) ? Int(number) : nil
            } else if let text = element.stringValue {
                id = byHash[text.lowercased()]
            } else {
                throw DaemonError(.invalidArgument, "ids must be ids or hashes")
            }
            if let id, seen.insert(id).inserted { result.append(id) }
        }
        return result
    }

    private func bool(_ arguments: [String: JSONValue], _ key: String) throws(DaemonError) -> Bool? {
        guard let value = arguments[key] else { return nil }
        guard let flag = value.boolValue else { throw DaemonError(.invalidArgument, "\(key) must be a boolean") }
        return flag
    }

    private func integer(_ arguments: [String: JSONValue], _ key: String, in range: ClosedRange<Int64>)
        throws(DaemonError) -> Int?
    {
        guard let value = arguments[key] else { return nil }
        guard let number = value.intValue, range.contains(number) else {
            throw DaemonError(.invalidArgument, "\(key) must be a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(number)
    }

    private func indexes(_ arguments: [String: JSONValue], _ key: String) throws(DaemonError) -> [Int]? {
        guard let value = arguments[key] else { return nil }
        guard let elements = value.arrayValue, elements.count <= Self.maximumListLength else {
            throw DaemonError(.invalidArgument, "\(key) must be an array of file indexes")
        }
        var result: [Int] = []
        for element in elements {
            guard let index = element.intValue, index >= 0, index <= Int64(Int32.max) else {
                throw DaemonError(.invalidArgument, "\(key) must be an array of file indexes")
            }
            result.append(Int(index))
        }
        return result
    }

    private func torrentChanges(_ arguments: [String: JSONValue]) throws(DaemonError) -> TorrentChanges {
        var changes = TorrentChanges()
        changes.downloadLimit = try integer(arguments, "download_limit", in: 0...Self.maximumSpeedLimit)
        changes.uploadLimit = try integer(arguments, "upload_limit", in: 0...Self.maximumSpeedLimit)
        changes.downloadLimited = try bool(arguments, "download_limited")
        changes.uploadLimited = try bool(arguments, "upload_limited")
        changes.peerLimit = try integer(arguments, "peer_limit", in: 1...65535)
        changes.filesWanted = try indexes(arguments, "files_wanted")
        changes.filesUnwanted = try indexes(arguments, "files_unwanted")
        changes.priorityHigh = try indexes(arguments, "priority_high")
        changes.priorityNormal = try indexes(arguments, "priority_normal")
        changes.priorityLow = try indexes(arguments, "priority_low")
        if arguments["location"] != nil {
            throw DaemonError(.invalidArgument, "location is changed with torrent-set-location")
        }
        if let value = arguments["tracker_add"] {
            changes.trackerAdd = try strings(value, "trackerAdd").map(trackerURL)
        }
        changes.trackerRemove = try indexes(arguments, "tracker_remove")
        if let value = arguments["tracker_replace"] {
            // A flat array of id, URL pairs (Transmission also accepts an array of [id, URL] arrays).
            guard var elements = value.arrayValue, elements.count <= 2 * Self.maximumTrackers else {
                throw DaemonError(.invalidArgument, "trackerReplace must be pairs of id and URL")
            }
            if elements.allSatisfy({ $0.arrayValue?.count == 2 }) { elements = elements.flatMap { $0.arrayValue! } }
            guard elements.count % 2 == 0 else {
                throw DaemonError(.invalidArgument, "trackerReplace must be pairs of id and URL")
            }
            var pairs: [TrackerReplacement] = []
            for start in stride(from: 0, to: elements.count, by: 2) {
                guard let id = elements[start].intValue, id >= 0, id <= Int64(Int32.max),
                    let url = elements[start + 1].stringValue
                else { throw DaemonError(.invalidArgument, "trackerReplace must be pairs of id and URL") }
                pairs.append(TrackerReplacement(id: Int(id), announce: try trackerURL(url)))
            }
            changes.trackerReplace = pairs
        }
        if let value = arguments["tracker_list"] {
            guard let text = value.stringValue, text.utf8.count <= Self.maximumTrackers * 256 else {
                throw DaemonError(.invalidArgument, "trackerList must be a string of announce URLs")
            }
            var tiers: [[String]] = [[]]
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                let url = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if url.isEmpty {
                    if !(tiers.last?.isEmpty ?? true) { tiers.append([]) }
                } else {
                    tiers[tiers.count - 1].append(try trackerURL(url))
                }
            }
            changes.trackerList = tiers.filter { !$0.isEmpty }
        }
        if let value = arguments["labels"] {
            let labels = try strings(value, "labels").map { $0.trimmingCharacters(in: .whitespaces) }
            guard labels.allSatisfy({ !$0.isEmpty && !$0.contains(",") && $0.utf8.count <= 256 }) else {
                throw DaemonError(.invalidArgument, "labels must be non-empty strings without commas")
            }
            var unique: [String] = []
            for label in labels where !unique.contains(label) { unique.append(label) }
            changes.labels = unique
        }
        return changes
    }

    /// An array of at most ``maximumTrackers`` strings, each at most ``maximumPathBytes`` long.
    private func strings(_ value: JSONValue, _ key: String) throws(DaemonError) -> [String] {
        guard let elements = value.arrayValue, elements.count <= Self.maximumTrackers else {
            throw DaemonError(.invalidArgument, "\(key) must be an array of strings")
        }
        var result: [String] = []
        for element in elements {
            guard let text = element.stringValue, text.utf8.count <= Self.maximumPathBytes else {
                throw DaemonError(.invalidArgument, "\(key) must be an array of strings")
            }
            result.append(text)
        }
        return result
    }

    /// An announce URL a tracker client can use (http, https or udp, with a host).
    private func trackerURL(_ text: String) throws(DaemonError) -> String {
        let lower = text.lowercased()
        guard text.utf8.count <= 2048, ["http://", "https://", "udp://"].contains(where: { lower.hasPrefix($0) }),
            let host = URLComponents(string: text)?.host, !host.isEmpty
        else { throw DaemonError(.invalidArgument, "invalid tracker URL: \(text.prefix(200))") }
        return text
    }

    private func renamePath(_ arguments: [String: JSONValue]) async throws(DaemonError) -> [String: JSONValue] {
        let ids = try await ids(arguments)
        guard ids.count == 1 else {
            throw DaemonError(.invalidArgument, "torrent-rename-path requires exactly one torrent")
        }
        guard let path = arguments["path"]?.stringValue, !path.isEmpty, path.utf8.count <= Self.maximumPathBytes,
            let name = arguments["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 255,
            !name.contains("/"), name != ".", name != ".."
        else { throw DaemonError(.invalidArgument, "path and name must name a file and its new name") }
        let renamed = try await backend.renamePath(id: ids[0], path: path, name: name)
        return ["id": .int(Int64(ids[0])), "path": .string(renamed.path), "name": .string(renamed.name)]
    }

    // MARK: Methods

    private func torrentGet(_ arguments: [String: JSONValue]) async throws(DaemonError) -> [String: JSONValue] {
        guard let list = arguments["fields"]?.arrayValue else {
            throw DaemonError(.invalidArgument, "no fields specified")
        }
        guard list.count <= 1000 else { throw DaemonError(.invalidArgument, "too many fields (\(list.count))") }
        var requested: [String] = []
        for element in list {
            guard let name = element.stringValue, name.utf8.count <= 64 else {
                throw DaemonError(.invalidArgument, "fields must be field names")
            }
            if !requested.contains(name) { requested.append(name) }
        }
        let table: Bool
        switch arguments["format"] {
        case nil, .string("objects")?: table = false
        case .string("table")?: table = true
        default: throw DaemonError(.invalidArgument, "format must be objects or table")
        }
        let ids = try await ids(arguments)
        let names = requested.map { RPCKeys.snake($0) }
        let torrents = await backend.snapshots(ids: ids, detail: TorrentFields.detail(for: names))
        // Fields the daemon does not know are left out, as Transmission does.
        let known = zip(requested, names).filter { _, name in
            TorrentFields.value(name, of: Self.probe) != nil
        }
        var result: [String: JSONValue] = [:]
        if table {
            var rows: [JSONValue] = [.array(known.map { .string($0.0) })]
            for torrent in torrents {
                rows.append(.array(known.map { TorrentFields.value($0.1, of: torrent) ?? .null }))
            }
            result["torrents"] = .array(rows)
        } else {
            result["torrents"] = .array(
                torrents.map { torrent in
                    var object: [String: JSONValue] = [:]
                    for (key, name) in known { object[key] = TorrentFields.value(name, of: torrent) }
                    return .object(object)
                })
        }
        if case .string(let text)? = arguments["ids"], RPCKeys.snake(text) == "recently_active" {
            result["removed"] = .array([])
        }
        return result
    }

    /// A snapshot used only to ask which field names exist.
    private static let probe = TorrentSnapshot(
        id: 0, hashString: "", name: "", activity: .stopped, totalSize: 0, sizeWhenDone: 0, leftUntilDone: 0,
        haveValid: 0, percentComplete: 0, percentDone: 0, downloadDir: "", pieceCount: 0, pieceSize: 0, addedDate: 0)

    private func torrentAdd(_ arguments: [String: JSONValue]) async throws(DaemonError) -> [String: JSONValue] {
        let source: TorrentSource
        if let metainfo = arguments["metainfo"] {
            guard let text = metainfo.stringValue,
                let bytes = Data(base64Encoded: text, options: .ignoreUnknownCharacters)
            else { throw DaemonError(.invalidArgument, "invalid or corrupt torrent file") }
            source = .metainfo(Array(bytes))
        } else if let filename = arguments["filename"] {
            guard let text = filename.stringValue, !text.isEmpty else {
                throw DaemonError(.invalidArgument, "no filename or metainfo specified")
            }
            if text.lowercased().hasPrefix("magnet:") {
                source = .magnet(text)
            } else if text.lowercased().hasPrefix("http://") || text.lowercased().hasPrefix("https://") {
                source = .url(text)
            } else {
                guard text.hasPrefix("/") else { throw DaemonError(.invalidArgument, "absolute path required") }
                source = .file(text)
            }
        } else {
            throw DaemonError(.invalidArgument, "no filename or metainfo specified")
        }
        var request = AddTorrentRequest(source: source)
        if let directory = arguments["download_dir"] {
            guard let path = directory.stringValue, path.hasPrefix("/") else {
                throw DaemonError(.invalidArgument, "download directory path is not absolute")
            }
            request.downloadDir = path
        }
        request.paused = try bool(arguments, "paused") ?? false
        request.filesUnwanted = try indexes(arguments, "files_unwanted") ?? []
        switch try await backend.add(request) {
        case .added(let id, let name, let hash):
            return ["torrent-added": ["id": .int(Int64(id)), "name": .string(name), "hashString": .string(hash)]]
        case .duplicate(let id, let name, let hash):
            return ["torrent-duplicate": ["id": .int(Int64(id)), "name": .string(name), "hashString": .string(hash)]]
        }
    }

    private func sessionGet(_ arguments: [String: JSONValue]) async throws(DaemonError) -> [String: JSONValue] {
        let settings = await backend.session()
        let kilo = 1000
        var all: [String: JSONValue] = [
            "version": .string("NetBitTorrent \(BTDaemonVersion.current)"),
            "rpc-version": .int(Self.rpcVersion), "rpc-version-minimum": 14, "rpc-version-semver": "5.4.0",
            "session-id": "", "config-dir": .string(settings.configDir),
            "download-dir": .string(settings.downloadDir), "incomplete-dir": .string(settings.downloadDir),
            "incomplete-dir-enabled": false, "peer-port": .int(Int64(settings.peerPort)),
            "peer-port-random-on-start": false, "port-forwarding-enabled": false,
            "peer-limit-global": .int(Int64(settings.peerLimitGlobal)),
            "peer-limit-per-torrent": .int(Int64(settings.peerLimitPerTorrent)),
            "speed-limit-down": .int(Int64(settings.speedLimitDown)),
            "speed-limit-down-enabled": .bool(settings.speedLimitDownEnabled),
            "speed-limit-up": .int(Int64(settings.speedLimitUp)),
            "speed-limit-up-enabled": .bool(settings.speedLimitUpEnabled),
            "alt-speed-enabled": .bool(settings.altSpeedEnabled), "alt-speed-down": .int(Int64(settings.altSpeedDown)),
            "alt-speed-up": .int(Int64(settings.altSpeedUp)), "alt-speed-time-enabled": false,
            "alt-speed-time-begin": 540, "alt-speed-time-end": 1020, "alt-speed-time-day": 127,
            "encryption": .string(settings.encryption), "dht-enabled": .bool(settings.dhtEnabled),
            "pex-enabled": .bool(settings.pexEnabled), "lpd-enabled": false, "utp-enabled": .bool(settings.utpEnabled),
            "blocklist-enabled": .bool(settings.blocklistEnabled),
            "blocklist-size": .int(Int64(settings.blocklistSize)), "blocklist-url": .string(settings.blocklistURL),
            "seedRatioLimit": 2, "seedRatioLimited": false, "idle-seeding-limit": 30,
            "idle-seeding-limit-enabled": false, "queue-stalled-enabled": false, "queue-stalled-minutes": 30,
            "download-queue-enabled": false, "download-queue-size": 5, "seed-queue-enabled": false,
            "seed-queue-size": 10, "start-added-torrents": .bool(settings.startAddedTorrents),
            "trash-original-torrent-files": false, "rename-partial-files": false, "cache-size-mb": 4,
            "script-torrent-done-enabled": false, "script-torrent-done-filename": "",
            "watch-dir": .string(settings.watchDir ?? ""), "watch-dir-enabled": .bool(settings.watchDir != nil),
            "units": [
                "speed-units": ["kB/s", "MB/s", "GB/s", "TB/s"], "speed-bytes": .int(Int64(kilo)),
                "size-units": ["kB", "MB", "GB", "TB"], "size-bytes": .int(Int64(kilo)),
                "memory-units": ["KiB", "MiB", "GiB", "TiB"], "memory-bytes": 1024,
            ],
        ]
        if let fields = arguments["fields"] {
            guard let list = fields.arrayValue, list.count <= 1000 else {
                throw DaemonError(.invalidArgument, "fields must be an array of names")
            }
            let wanted = Set(list.compactMap { $0.stringValue.map(RPCKeys.snake) })
            all = all.filter { wanted.contains(RPCKeys.snake($0.key)) }
        }
        return all
    }

    private func sessionSet(_ arguments: [String: JSONValue]) async throws(DaemonError) {
        var changes = SessionChanges()
        if let directory = arguments["download_dir"] {
            guard let path = directory.stringValue, path.hasPrefix("/") else {
                throw DaemonError(.invalidArgument, "download directory path is not absolute")
            }
            changes.downloadDir = path
        }
        changes.startAddedTorrents = try bool(arguments, "start_added_torrents")
        changes.speedLimitDown = try integer(arguments, "speed_limit_down", in: 0...Self.maximumSpeedLimit)
        changes.speedLimitDownEnabled = try bool(arguments, "speed_limit_down_enabled")
        changes.speedLimitUp = try integer(arguments, "speed_limit_up", in: 0...Self.maximumSpeedLimit)
        changes.speedLimitUpEnabled = try bool(arguments, "speed_limit_up_enabled")
        changes.blocklistEnabled = try bool(arguments, "blocklist_enabled")
        changes.altSpeedDown = try integer(arguments, "alt_speed_down", in: 0...Self.maximumSpeedLimit)
        changes.altSpeedUp = try integer(arguments, "alt_speed_up", in: 0...Self.maximumSpeedLimit)
        changes.altSpeedEnabled = try bool(arguments, "alt_speed_enabled")
        changes.peerLimitGlobal = try integer(arguments, "peer_limit_global", in: 1...Self.maximumPeerLimit)
        changes.peerLimitPerTorrent = try integer(arguments, "peer_limit_per_torrent", in: 1...Self.maximumPeerLimit)
        if let value = arguments["blocklist_url"] {
            guard let url = value.stringValue, url.utf8.count <= Self.maximumPathBytes,
                url.isEmpty || url.hasPrefix("/")
                    || ["http://", "https://", "file:///"].contains(where: {
                        url.lowercased().hasPrefix($0)
                    })
            else { throw DaemonError(.invalidArgument, "blocklist-url must be an http(s) URL or an absolute path") }
            changes.blocklistURL = url
        }
        if let value = arguments["encryption"] {
            guard let policy = value.stringValue, ["required", "preferred", "tolerated"].contains(policy) else {
                throw DaemonError(.invalidArgument, "encryption must be required, preferred or tolerated")
            }
            changes.encryption = policy
        }
        for unsupported in [
            "peer_port"
        ] where arguments[unsupported] != nil {
            throw DaemonError(.invalidArgument, "\(unsupported) cannot be changed while the daemon runs (yet)")
        }
        try await backend.setSession(changes)
    }

    private func sessionStats() async -> [String: JSONValue] {
        let stats = await backend.sessionStatistics()
        let current: JSONValue = [
            "uploadedBytes": .int(stats.uploadedBytes), "downloadedBytes": .int(stats.downloadedBytes),
            "filesAdded": .int(Int64(stats.filesAdded)), "sessionCount": 1, "secondsActive": .int(stats.secondsActive),
        ]
        return [
            "activeTorrentCount": .int(Int64(stats.activeTorrentCount)),
            "pausedTorrentCount": .int(Int64(stats.pausedTorrentCount)),
            "torrentCount": .int(Int64(stats.torrentCount)), "downloadSpeed": .int(Int64(stats.downloadSpeed)),
            "uploadSpeed": .int(Int64(stats.uploadSpeed)), "current-stats": current, "cumulative-stats": current,
        ]
    }
}
