import BTMetainfo
import BTStorage
import Foundation
import Testing

/// Random bytes flipped in random files: the hash check reports exactly the pieces holding a flipped byte.
@Test(arguments: 0..<6)
func hashCheckFindsExactlyTheCorruptedPieces(seed: UInt64) async throws {
    var generator = SeededGenerator(seed: 1000 + seed)
    let sizes = (0..<Int.random(in: 2...8, using: &generator)).map { _ in Int.random(in: 0...200_000, using: &generator)
    }
    let fixture = Fixture.v1(sizes: sizes, pieceLength: 32768, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    try fixture.writeFiles(to: folder.path)
    let layout = fixture.torrent.layout

    var corrupted = Set<Int>()
    let candidates = layout.files.indices.filter { layout.files[$0].length > 0 }
    for _ in 0..<Int.random(in: 1...10, using: &generator) {
        let file = candidates.randomElement(using: &generator)!
        let position = Int64.random(in: 0..<layout.files[file].length, using: &generator)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: fixture.path(ofFile: file, in: folder.path)))
        try handle.seek(toOffset: UInt64(position))
        let old = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: UInt64(position))
        try handle.write(contentsOf: [old ^ UInt8.random(in: 1...255, using: &generator)])
        try handle.close()
        corrupted.insert(Int((layout.files[file].offset + position) / Int64(layout.pieceLength)))
    }

    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    let progress = Locked(0)
    let verified = try await store.checkExistingData { update in progress.withLock { $0 = max($0, update.checked) } }
    let missing = Set((0..<layout.pieceCount).filter { !verified[$0] })
    #expect(missing == corrupted)
    #expect(progress.withLock { $0 } == layout.pieceCount)
}

/// Missing and truncated files are missing pieces, not errors.
@Test func missingAndShortFilesAreMissingPieces() async throws {
    var generator = SeededGenerator(seed: 42)
    let fixture = Fixture.v1(sizes: [70000, 50000, 90000], pieceLength: 16384, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    try fixture.writeFiles(to: folder.path)
    try FileManager.default.removeItem(atPath: fixture.path(ofFile: 1, in: folder.path))
    let truncated = try FileHandle(forUpdating: URL(fileURLWithPath: fixture.path(ofFile: 2, in: folder.path)))
    try truncated.truncate(atOffset: 60000)
    try truncated.close()

    let layout = fixture.torrent.layout
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    let verified = try await store.checkExistingData()
    var expected = Set<Int>()
    for piece in 0..<layout.pieceCount {
        let start = layout.offset(ofPiece: piece)
        let end = start + Int64(layout.size(ofPiece: piece))
        let touchesMissing = end > layout.files[1].offset && start < layout.files[1].offset + layout.files[1].length
        let touchesCut = end > layout.files[2].offset + 60000
        if !touchesMissing && !touchesCut { expected.insert(piece) }
    }
    #expect(Set(verified.setIndexes) == expected)
}

/// A hash check can be cancelled; it then throws `cancelled` instead of reporting a partial result.
@Test func hashCheckIsCancellable() async throws {
    let size = 48 << 20
    let pieceLength = 16384
    let torrent = Torrent(
        version: .v1, infoHashes: InfoHashes(v1: [UInt8](repeating: 1, count: 20), v2: nil), name: "big",
        pieceLength: pieceLength, files: [TorrentFile(path: ["big"], length: Int64(size), offset: 0)],
        isSingleFile: true,
        pieceHashes: [UInt8](repeating: 0, count: size / pieceLength * 20), infoBytes: [])
    let memory = MemoryStorage(layout: torrent.layout)
    let bytes = [UInt8](repeating: 7, count: size)
    try bytes.withUnsafeBytes { try memory.write(file: 0, offset: 0, from: $0) }
    let store = PieceStore(torrent: torrent, storage: memory, pool: WorkerPool(width: 1))
    let started = AsyncStream.makeStream(of: Void.self)
    let task = Task {
        try await store.checkExistingData { _ in started.continuation.yield() }
    }
    for await _ in started.stream { break }
    task.cancel()
    await #expect(throws: StorageError.self) { try await task.value }
}
