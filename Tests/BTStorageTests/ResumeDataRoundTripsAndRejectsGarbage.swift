import BTBencode
import BTMetainfo
import BTStorage
import Foundation
import Testing

@Test func resumeDataRoundTrips() throws {
    var verified = Bitfield(count: 13)
    verified[0] = true
    verified[12] = true
    var blocks = Bitfield(count: 4)
    blocks[1] = true
    let data = ResumeData(
        infoHash: [UInt8](repeating: 9, count: 20), verified: verified,
        files: [FileStatus(size: 10, modificationTime: 1_700_000_000_123_456_789), nil],
        partialPieces: [3: blocks], priorities: [.skip, .high], renamedFiles: [1: ["a", "b.txt"]], folder: "/tmp/x")
    let bytes = data.encoded()
    let parsed = try ResumeData(bytes: bytes)
    #expect(parsed == data)
    #expect(parsed.encoded() == bytes)
}

/// Named negative vectors: each is rejected with `invalidResumeData`.
@Test(arguments: [
    ("empty", ""),
    ("not a dictionary", "li1ee"),
    ("truncated", "d6:formati1e9:info-hash20:"),
    ("wrong format version", "d6:formati2ee"),
    ("short info-hash", "d5:filesle6:formati1e9:info-hash3:abc7:partialle11:piece-counti0e6:pieces0:e"),
    (
        "negative piece count",
        "d5:filesle6:formati1e9:info-hash20:aaaaaaaaaaaaaaaaaaaa7:partialle11:piece-counti-1e6:pieces0:e"
    ),
    (
        "bitfield length mismatch",
        "d5:filesle6:formati1e9:info-hash20:aaaaaaaaaaaaaaaaaaaa7:partialle11:piece-counti9e6:pieces1:\u{0}e"
    ),
    (
        "spare bit set",
        "d5:filesle6:formati1e9:info-hash20:aaaaaaaaaaaaaaaaaaaa7:partialle11:piece-counti1e6:pieces1:\u{1}e"
    ),
    (
        "partial piece out of range",
        "d5:filesle6:formati1e9:info-hash20:aaaaaaaaaaaaaaaaaaaa7:partiallli5ei1e1:\u{0}ee11:piece-counti1e6:pieces1:\u{0}e"
    ),
    (
        "unsafe renamed path",
        "d5:filesle6:formati1e9:info-hash20:aaaaaaaaaaaaaaaaaaaa7:partialle11:piece-counti0e6:pieces0:7:renamedlli0el2:..eeee"
    ),
    (
        "negative file size",
        "d5:filesli-1ei5eee6:formati1e9:info-hash20:aaaaaaaaaaaaaaaaaaaa7:partialle11:piece-counti0e6:pieces0:e"
    ),
])
func corruptResumeDataIsATypedError(name: String, text: String) {
    let error = #expect(throws: StorageError.self, "\(name)") { try ResumeData(bytes: Array(text.utf8)) }
    #expect(error?.code == .invalidResumeData)
}

/// A valid minimal document parses (so the negative vectors above fail for their own reason).
@Test func minimalResumeDataParses() throws {
    let text = "d5:filesle6:formati1e9:info-hash20:aaaaaaaaaaaaaaaaaaaa7:partialle11:piece-counti0e6:pieces0:e"
    #expect(try ResumeData(bytes: Array(text.utf8)).verified.count == 0)
}

/// Restart from resume data: unchanged files are trusted without reading, a changed file is re-checked,
/// partial block maps survive, and corrupt resume data falls back to a full check.
@Test func restartTrustsUnchangedFilesAndRechecksChangedOnes() async throws {
    var generator = SeededGenerator(seed: 21)
    let fixture = Fixture.v1(
        sizes: [50_000, 70_000, 20_000], pieceLength: 16384, padAligned: true, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let resumePath = folder.path + "/resume.dat"
    let layout = fixture.torrent.layout
    do {
        let store = PieceStore(
            torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
        #expect(try await store.start(resumeDataAt: resumePath) == .fullCheck)
        for piece in 0..<layout.pieceCount {
            let bytes = fixture.piece(piece)
            for start in stride(from: 0, to: bytes.count, by: 16384) {
                // Leave the first block of the last piece unwritten.
                if piece == layout.pieceCount - 1 && start == 0 { continue }
                _ = try await store.writeBlock(
                    piece: piece, offset: start, bytes: Array(bytes[start..<min(start + 16384, bytes.count)]),
                    from: .local)
            }
        }
        try await store.saveResumeData(to: resumePath)
    }
    let expectedVerified = layout.pieceCount - 1
    do {
        let log = EventLog()
        let store = PieceStore(
            torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path),
            events: log.handler)
        #expect(try await store.start(resumeDataAt: resumePath) == .resumed(changedFiles: [], recheckedPieces: 0))
        #expect(await store.verifiedPieces.setCount == expectedVerified)
        #expect(log.events.isEmpty, "nothing was re-hashed")
        let last = layout.pieceCount - 1
        #expect(await store.missingBlocks(ofPiece: last) == [0])
    }
    // Change file 0 behind the store's back (different size): only its pieces are re-checked.
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: fixture.path(ofFile: 0, in: folder.path)))
    try handle.truncate(atOffset: 40_000)
    try handle.close()
    do {
        let store = PieceStore(
            torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
        let outcome = try await store.start(resumeDataAt: resumePath)
        #expect(outcome == .resumed(changedFiles: [0], recheckedPieces: layout.pieces(ofFile: 0).count))
        let verified = await store.verifiedPieces
        for piece in layout.pieces(ofFile: 0) {
            #expect(verified[piece] == (layout.offset(ofPiece: piece) + Int64(layout.size(ofPiece: piece)) <= 40_000))
        }
    }
    // Garbage resume data: a full check, not a crash.
    try Data("d6:formati1e".utf8).write(to: URL(fileURLWithPath: resumePath))
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    guard case .fullCheckAfterInvalidResumeData = try await store.start(resumeDataAt: resumePath) else {
        Issue.record("corrupt resume data was not detected")
        return
    }
}

/// Resume data of another torrent is rejected rather than trusted.
@Test func resumeDataOfAnotherTorrentIsRejected() async throws {
    var generator = SeededGenerator(seed: 22)
    let a = Fixture.v1(sizes: [20_000], pieceLength: 16384, name: "a", generator: &generator)
    let b = Fixture.v1(sizes: [20_000], pieceLength: 16384, name: "b", generator: &generator)
    let storeA = PieceStore(torrent: a.torrent, storage: MemoryStorage(layout: a.torrent.layout))
    let resume = try await storeA.resumeData()
    let storeB = PieceStore(torrent: b.torrent, storage: MemoryStorage(layout: b.torrent.layout))
    let error = await #expect(throws: StorageError.self) { try await storeB.restore(from: resume) }
    #expect(error?.code == .invalidResumeData)
}
