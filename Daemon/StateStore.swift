import Foundation

/// The daemon's state on disk, kept cheap at 10,000 torrents and safe against `kill -9`: a snapshot
/// (`DaemonState.fileName`, written atomically) plus a journal of the changes since (``journalName``), one JSON
/// record a line, appended. A change costs one short line, not a rewrite of every torrent;
/// the journal is folded into a new snapshot when it holds more records than the state has torrents (and at
/// least ``minimumCompactionRecords``), so its size stays bounded by the state's.
///
/// Loading replays the journal over the snapshot. A line cut short by a kill (the last one) does not decode and
/// is dropped: the change it held was never acknowledged as written. Replay is idempotent, so a kill between a
/// compaction's new snapshot and the journal's truncation replays records the snapshot already holds, to the
/// same state.
final class StateStore {
    /// One change: a torrent's entry as it now is, a torrent removed, or the session's settings.
    struct Record: Codable, Hashable {
        /// The entry of a torrent added or changed.
        var put: DaemonState.Entry?
        /// The id of a torrent removed.
        var remove: Int?
        /// The session's settings (a state without torrents).
        var session: DaemonState?
    }

    /// The journal's name in the config directory.
    static let journalName = "daemon-state.journal"
    /// The journal is never compacted below this many records.
    static let minimumCompactionRecords = 256

    private let configDir: String
    private var journal: FileHandle?
    /// Records appended since the last snapshot.
    private(set) var journalRecords = 0

    /// Reads the state of `configDir` (snapshot then journal), nil when there is none yet.
    /// - Throws: ``DaemonError`` (`stateFailed`) when the snapshot exists but is not a state.
    static func load(from configDir: String) throws(DaemonError) -> DaemonState? {
        let state = try DaemonState.load(from: configDir)
        guard let data = FileManager.default.contents(atPath: configDir + "/" + journalName) else { return state }
        return replay(data, over: state)
    }

    /// `state` with the journal `data` replayed over it (lines that do not decode are skipped).
    static func replay(_ data: Data, over snapshot: DaemonState?) -> DaemonState? {
        var state = snapshot
        let decoder = JSONDecoder()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            // A line that does not decode is the one a kill cut short; its change was never finished.
            guard let record = try? decoder.decode(Record.self, from: line) else { continue }
            if let session = record.session {
                guard DaemonState.idRange.contains(session.nextID) else { continue }
                var next = session
                next.torrents = state?.torrents ?? TorrentTable()
                next.nextID = max(next.nextID, state?.nextID ?? 1)
                state = next
            }
            guard var current = state else { continue }
            if let entry = record.put {
                // Ids are positive and far from overflow (`nextID` is one past the largest); a line claiming
                // otherwise is corrupt and skipped as a cut line is.
                guard DaemonState.idRange.contains(entry.id) else { continue }
                current.torrents.upsert(entry)
                current.nextID = max(current.nextID, entry.id + 1)
            }
            if let id = record.remove { current.torrents.remove(id: id) }
            state = current
        }
        return state
    }

    /// A store for `configDir` starting from `state`: writes it as the snapshot and empties the journal (so a
    /// line cut short by an earlier kill is gone before anything is appended after it).
    /// - Throws: ``DaemonError`` (`stateFailed`) when the files cannot be written.
    init(configDir: String, state: DaemonState) throws(DaemonError) {
        self.configDir = configDir
        try compact(state)
    }

    deinit {
        try? journal?.close()
    }

    private var journalPath: String { configDir + "/" + Self.journalName }

    /// Writes `state` as the snapshot, then empties the journal.
    /// - Throws: ``DaemonError`` (`stateFailed`).
    func compact(_ state: DaemonState) throws(DaemonError) {
        try state.save(to: configDir)
        do {
            if journal == nil {
                if !FileManager.default.fileExists(atPath: journalPath) {
                    // A failure shows in the open below.
                    _ = FileManager.default.createFile(atPath: journalPath, contents: nil)
                }
                guard let handle = FileHandle(forWritingAtPath: journalPath) else {
                    throw DaemonError(.stateFailed, "cannot open \(journalPath)")
                }
                journal = handle
            }
            // Emptied and written from its start again: this store is the journal's only writer.
            try journal?.truncate(atOffset: 0)
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError(.stateFailed, "cannot empty \(journalPath): \(error)")
        }
        journalRecords = 0
    }

    /// Appends `record` to the journal; compacts into a snapshot of `state` (which holds the change already)
    /// when the journal has grown past the state's size.
    /// - Throws: ``DaemonError`` (`stateFailed`).
    func append(_ record: Record, state: DaemonState) throws(DaemonError) {
        guard let journal, journalRecords < max(Self.minimumCompactionRecords, state.torrents.count) else {
            try compact(state)
            return
        }
        var line: Data
        do {
            line = try JSONEncoder().encode(record)
        } catch {
            throw DaemonError(.stateFailed, "cannot encode a state change: \(error)")
        }
        line.append(UInt8(ascii: "\n"))
        do {
            try journal.write(contentsOf: line)
        } catch {
            // A short append (disk full) may leave a torn line: a snapshot holds the change instead.
            try compact(state)
            return
        }
        journalRecords += 1
    }
}

/// The daemon's state files as the fuzz target `FuzzDaemonState` reads them (not an API for other uses).
@_spi(Fuzzing) public enum DaemonStateFiles {
    /// Reads a snapshot (nil: none) and a journal as ``StateStore`` does at start, and replays the journal a
    /// second time over the result, as a kill between a compaction's new snapshot and the journal's
    /// truncation makes the next start do. Returns the torrents of the state, nil when there is no state;
    /// throws when the snapshot is not a state.
    /// - Precondition (checked): the second replay gives the same state as the first.
    public static func load(snapshot: [UInt8]?, journal: [UInt8]) throws -> Int? {
        let state: DaemonState?
        if let snapshot {
            state = try DaemonState.decode(Data(snapshot))
        } else {
            state = nil
        }
        let once = StateStore.replay(Data(journal), over: state)
        let twice = StateStore.replay(Data(journal), over: once)
        precondition(once == twice, "replaying the journal again changed the state")
        return once?.torrents.count
    }
}
