import Foundation
import Testing

@testable import BTDaemon

/// The daemon's state on disk at scale: a change is one journal line (the snapshot of every torrent is not
/// rewritten), a line cut short by `kill -9` is dropped, replay gives back every change, and the journal is
/// folded into the snapshot before it outgrows the state.
@Suite struct StateJournalAppendsChangesAndSurvivesKills {
    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "nbt-journal-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func entry(_ id: Int) -> DaemonState.Entry {
        DaemonState.Entry(
            id: id, hashString: String(format: "%040x", id), downloadDir: "/data", paused: false, addedDate: 1,
            wanted: [true], priorities: [0])
    }

    static func state(torrents count: Int) -> DaemonState {
        var state = DaemonState(downloadDir: "/data")
        for id in 1...count { state.torrents.upsert(entry(id)) }
        state.nextID = count + 1
        return state
    }

    static func contents(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

    @Test func aChangeAppendsOneLineAndLeavesTheSnapshotAlone() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var state = Self.state(torrents: 1000)
        let store = try StateStore(configDir: dir, state: state)
        let snapshot = Self.contents(dir + "/" + DaemonState.fileName)
        state.torrents.update(500) { $0.paused = true }
        try store.append(StateStore.Record(put: state.torrents[id: 500]), state: state)
        #expect(Self.contents(dir + "/" + DaemonState.fileName) == snapshot)
        let journal = Self.contents(dir + "/" + StateStore.journalName)
        #expect(journal.split(separator: UInt8(ascii: "\n")).count == 1)
        #expect(journal.count < 400)
        #expect(try StateStore.load(from: dir) == state)
    }

    @Test func replayGivesBackPutsRemovalsAndSessionSettings() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var state = Self.state(torrents: 3)
        let store = try StateStore(configDir: dir, state: state)
        state.torrents.remove(id: 2)
        try store.append(StateStore.Record(remove: 2), state: state)
        state.torrents.upsert(Self.entry(4))
        state.nextID = 5
        try store.append(StateStore.Record(put: state.torrents[id: 4]), state: state)
        state.speedLimitDown = 42
        state.speedLimitDownEnabled = true
        var session = state
        session.torrents = TorrentTable()
        try store.append(StateStore.Record(session: session), state: state)
        let loaded = try #require(try StateStore.load(from: dir))
        #expect(loaded == state)
        #expect(loaded.torrents.ids == [1, 3, 4])
        #expect(loaded.nextID == 5)
        #expect(loaded.torrents.entry(hash: String(format: "%040x", 4))?.id == 4)
    }

    @Test func aLineCutShortByAKillIsDroppedAndTheNextStartGoesOn() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var state = Self.state(torrents: 2)
        let store = try StateStore(configDir: dir, state: state)
        state.torrents.update(1) { $0.labels = ["kept"] }
        try store.append(StateStore.Record(put: state.torrents[id: 1]), state: state)
        // What a kill in the middle of the next write leaves: half a record, no newline.
        let torn = try JSONEncoder().encode(StateStore.Record(put: Self.entry(9)))
        let handle = try #require(FileHandle(forWritingAtPath: dir + "/" + StateStore.journalName))
        handle.seekToEndOfFile()
        handle.write(torn.prefix(torn.count / 2))
        handle.closeFile()
        let loaded = try #require(try StateStore.load(from: dir))
        #expect(loaded == state)
        // The next start folds the journal in and appends after a clean start, not after the torn half.
        var next = loaded
        let restarted = try StateStore(configDir: dir, state: next)
        next.torrents.update(2) { $0.paused = true }
        try restarted.append(StateStore.Record(put: next.torrents[id: 2]), state: next)
        #expect(try StateStore.load(from: dir) == next)
    }

    @Test func theJournalIsFoldedIntoTheSnapshotBeforeItOutgrowsTheState() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var state = Self.state(torrents: 10)
        let store = try StateStore(configDir: dir, state: state)
        for round in 0..<(StateStore.minimumCompactionRecords * 3) {
            state.torrents.update(round % 10 + 1) { $0.addedDate = Int64(round) }
            try store.append(StateStore.Record(put: state.torrents[id: round % 10 + 1]), state: state)
            #expect(store.journalRecords <= StateStore.minimumCompactionRecords)
        }
        let lines = Self.contents(dir + "/" + StateStore.journalName).split(separator: UInt8(ascii: "\n")).count
        #expect(lines == store.journalRecords)
        #expect(try StateStore.load(from: dir) == state)
    }

    @Test func theTableFindsByIDAndHashAndKeepsIDOrder() {
        var table = TorrentTable([Self.entry(5), Self.entry(2), Self.entry(9)])
        table.upsert(Self.entry(7))
        #expect(table.ids == [2, 5, 7, 9])
        #expect(table.map(\.id) == [2, 5, 7, 9])
        #expect(table[id: 7]?.hashString == String(format: "%040x", 7))
        #expect(table.entry(hash: String(format: "%040x", 9))?.id == 9)
        #expect(table.remove(id: 5)?.id == 5)
        #expect(table.ids == [2, 7, 9])
        #expect(table.entry(hash: String(format: "%040x", 5)) == nil)
        #expect(table[id: 5] == nil)
        #expect(table.remove(id: 5) == nil)
    }
}
