import BTMetainfo
import BTStorage
import Foundation
import NIOCore
import Testing

/// A complete store of `fixture` on disk under `folder`.
private func completeStore(_ fixture: Fixture, folder: TemporaryFolder) async throws -> PieceStore {
    try fixture.writeFiles(to: folder.path)
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    try await store.checkExistingData()
    try #require(await store.isComplete)
    return store
}

/// Every block of a torrent whose pieces span files and BEP 47 pad files reads back, through the reader,
/// as the torrent's bytes (pad bytes as zeros), each in a buffer from the given allocator, results in the
/// order of the requests with their tags.
@Test func readerAnswersBlocksSpanningFilesAndPadFilesInRequestOrder() async throws {
    var generator = SeededGenerator(seed: 69)
    // Files of 20000, 50000 and 7000 bytes, pad-aligned to 32 KiB pieces: pieces hold a file's tail, a pad
    // file, and the next file's head; blocks of 16 KiB straddle those borders.
    let unaligned = Fixture.v1(sizes: [20000, 50000, 7000], pieceLength: 32768, generator: &generator)
    let padded = Fixture.v1(sizes: [20000, 50000, 7000], pieceLength: 32768, padAligned: true, generator: &generator)
    for fixture in [unaligned, padded] {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let store = try await completeStore(fixture, folder: folder)
        let delivered = Locked<[PieceStore.BlockReader<Int>.Outcomes]>([])
        let reader = PieceStore.BlockReader<Int>(store: store, allocator: ByteBufferAllocator()) { outcomes in
            delivered.withLock { $0.append(outcomes) }
        }
        var requests: [BlockRequest] = []
        for piece in 0..<fixture.torrent.layout.pieceCount {
            for block in 0..<store.blockCount(ofPiece: piece) {
                requests.append(
                    BlockRequest(
                        piece: piece, offset: block * PieceStore.blockSize,
                        length: store.blockLength(piece: piece, block: block)))
            }
        }
        requests.append(BlockRequest(piece: 1, offset: 1000, length: 20000))  // unaligned, across a border
        requests.shuffle(using: &generator)
        for (tag, request) in requests.enumerated() { try reader.enqueue(request, for: tag) }
        await reader.shutdown()
        let outcomes = delivered.withLock { $0 }.flatMap { $0 }
        #expect(outcomes.map(\.request) == requests)
        #expect(outcomes.map(\.tag) == Array(requests.indices))
        let stream = fixture.stream
        for outcome in outcomes {
            let start = Int(fixture.torrent.layout.offset(ofPiece: outcome.request.piece)) + outcome.request.offset
            let buffer = try outcome.result.get()
            #expect(buffer.readableBytes == outcome.request.length)
            #expect(
                buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes)
                    == Array(stream[start..<(start + outcome.request.length)]), "\(outcome.request)")
        }
        #expect(reader.pendingBytes == 0)
    }
}

/// Bad requests fail on their own (outside the torrent, an unverified piece), a verified piece whose file
/// was truncated fails with `fileChanged`; the good requests of the same batch are answered.
@Test func readerFailuresAreTypedPerRequest() async throws {
    var generator = SeededGenerator(seed: 70)
    let fixture = Fixture.v1(sizes: [32768, 32768], pieceLength: 32768, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let store = try await completeStore(fixture, folder: folder)
    // Truncated behind our back (an open handle may be cached, so removing it would not be seen).
    try #require(FileHandle(forWritingAtPath: fixture.path(ofFile: 1, in: folder.path))).truncate(atOffset: 0)
    let results = await store.readBlocks(
        [
            BlockRequest(piece: 0, offset: 0, length: 16384), BlockRequest(piece: 9, offset: 0, length: 16384),
            BlockRequest(piece: 0, offset: 30000, length: 16384), BlockRequest(piece: 1, offset: 0, length: 16384),
        ], allocator: ByteBufferAllocator())
    #expect(try results[0].get() == ByteBuffer(bytes: fixture.contents[0][0..<16384]))
    for (index, code) in [(1, StorageError.Code.invalidRequest), (2, .invalidRequest), (3, .fileChanged)] {
        guard case .failure(let error) = results[index] else {
            Issue.record("request \(index) succeeded")
            continue
        }
        #expect(error.code == code)
    }
    let again = await store.readBlocks(
        [BlockRequest(piece: 1, offset: 0, length: 16384)], allocator: ByteBufferAllocator())
    if case .failure(let error) = again[0] { #expect(error.code == .invalidRequest, "no longer verified") }
}

/// The file range query: a block inside one file gives that file's absolute path, offset and length; a
/// block spanning two files, or touching a pad file, or outside the torrent gives nil.
@Test func fileRangeNamesTheFileOnlyForBlocksInsideOneRealFile() async throws {
    var generator = SeededGenerator(seed: 71)
    let fixture = Fixture.v1(sizes: [20000, 50000], pieceLength: 32768, padAligned: true, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let store = try await completeStore(fixture, folder: folder)
    // Layout: file0 0..<20000, pad 20000..<32768, file1 32768..<82768.
    let inside = try #require(store.fileRange(of: BlockRequest(piece: 1, offset: 16384, length: 16384)))
    #expect(inside.offset == 16384 && inside.length == 16384)
    let real = URL(fileURLWithPath: fixture.path(ofFile: 2, in: folder.path)).resolvingSymlinksInPath().path
    #expect(URL(fileURLWithPath: inside.path).resolvingSymlinksInPath().path == real)
    let handle = try #require(FileHandle(forReadingAtPath: inside.path))
    try handle.seek(toOffset: UInt64(inside.offset))
    #expect(try handle.read(upToCount: inside.length).map(Array.init) == Array(fixture.contents[2][16384..<32768]))
    #expect(store.fileRange(of: BlockRequest(piece: 0, offset: 0, length: 16384)) != nil)
    #expect(store.fileRange(of: BlockRequest(piece: 0, offset: 16384, length: 16384)) == nil, "file0 then pad")
    #expect(store.fileRange(of: BlockRequest(piece: 9, offset: 0, length: 16384)) == nil)
    let spanning = Fixture.v1(sizes: [20000, 50000], pieceLength: 32768, generator: &generator)
    let other = try TemporaryFolder()
    defer { other.cleanup() }
    let spanningStore = try await completeStore(spanning, folder: other)
    #expect(spanningStore.fileRange(of: BlockRequest(piece: 0, offset: 16384, length: 16384)) == nil, "two files")
}
