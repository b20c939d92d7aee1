import BTMetainfo
import BTStorage
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private func run(_ arguments: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}

/// Two files, one piece each; writes every block of both through a writer and returns the outcomes by
/// file, after `breakDisk` was done to the folder.
private func writeBoth(
    folder: TemporaryFolder, breakDisk: (Fixture) throws -> Void
) async throws -> (first: [Result<BlockWriteResult, StorageError>], second: [Result<BlockWriteResult, StorageError>]) {
    var generator = SeededGenerator(seed: 65)
    let fixture = Fixture.v1(sizes: [32768, 32768], pieceLength: 32768, generator: &generator)
    try breakDisk(fixture)
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    let probe = WriterProbe()
    let writer = PieceStore.BlockWriter(store: store, scheduleFlush: probe.scheduleFlush, written: probe.written)
    for piece in 0..<2 {
        for block in receivedBlocks(of: fixture, piece: piece, store: store) { try writer.enqueue(block) }
    }
    await writer.shutdown()
    let results = probe.delivered.flatMap { $0 }.map(\.result)
    #expect(results.count == 4, "every block has its outcome")
    return (Array(results.prefix(2)), Array(results.suffix(2)))
}

/// A file of the torrent replaced by a directory: the blocks of that file fail with a typed error naming
/// it; the other file's blocks are written and their piece verifies.
@Test func fileReplacedByADirectoryFailsOnlyItsOwnBlocksWithTypedErrors() async throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let (first, second) = try await writeBoth(folder: folder) { fixture in
        try FileManager.default.createDirectory(
            atPath: fixture.path(ofFile: 0, in: folder.path), withIntermediateDirectories: true)
    }
    for result in first {
        guard case .failure(let error) = result else {
            Issue.record("a block of the directory was written: \(result)")
            continue
        }
        #expect(error.code == .ioError && error.errno == EISDIR)
        #expect(error.path?.hasSuffix("file0.bin") == true)
    }
    #expect(try second.map { try $0.get() } == [.stored, .pieceVerified(piece: 1, peers: [PeerTag(1)])])
}

/// A download folder nobody may write into (mode 0555; as root, which ignores modes, `chattr +i`): every
/// block fails with `permissionDenied`, none is reported written.
@Test func readOnlyFolderFailsEveryBlockWithPermissionDenied() async throws {
    let folder = try TemporaryFolder()
    defer {
        _ = run(["chattr", "-i", folder.path])
        chmod(folder.path, 0o755)
        folder.cleanup()
    }
    let (first, second) = try await writeBoth(folder: folder) { _ in
        if geteuid() == 0 {
            try #require(run(["chattr", "+i", folder.path]) == 0, "chattr +i is needed to deny root")
        } else {
            chmod(folder.path, 0o555)
        }
    }
    for result in first + second {
        guard case .failure(let error) = result else {
            Issue.record("a block was written into a read-only folder: \(result)")
            continue
        }
        #expect(error.code == .permissionDenied)
    }
}
