import Foundation
import Testing

@testable import BTDaemon

/// A corrupt state (a disk error, a hand edit) cannot make the next torrent id overflow: a snapshot whose ids
/// are out of 1...2^31-1 is not a state, and a journal line with such an id is skipped like a cut line
/// (before, a journal entry with the largest id crashed the daemon at start, `nextID = id + 1`).
@Suite struct StateFilesRefuseIdsThatWouldOverflow {
    @Test func aSnapshotWithAnAbsurdNextIDIsNotAState() throws {
        let dir = try StateJournalAppendsChangesAndSurvivesKills.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var state = StateJournalAppendsChangesAndSurvivesKills.state(torrents: 2)
        state.nextID = Int.max
        try state.save(to: dir)
        #expect(throws: DaemonError.self) { try StateStore.load(from: dir) }
    }

    @Test func aJournalLineWithAnAbsurdIDIsSkipped() throws {
        let dir = try StateJournalAppendsChangesAndSurvivesKills.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = StateJournalAppendsChangesAndSurvivesKills.state(torrents: 2)
        let store = try StateStore(configDir: dir, state: state)
        var next = state
        next.torrents.upsert(StateJournalAppendsChangesAndSurvivesKills.entry(3))
        next.nextID = 4
        try store.append(
            StateStore.Record(put: StateJournalAppendsChangesAndSurvivesKills.entry(Int.max)), state: state)
        try store.append(StateStore.Record(put: next.torrents[id: 3]), state: next)
        let loaded = try #require(try StateStore.load(from: dir))
        #expect(loaded == next)
    }
}
