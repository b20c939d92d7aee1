import BTMetainfo
import BTStorage
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private func run(_ arguments: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}

private func writeOne(_ storage: FileStorage, count: Int = 4) throws {
    try [UInt8](repeating: 1, count: count).withUnsafeBytes { try storage.write(file: 0, offset: 0, from: $0) }
}

private func storage(in folder: String, name: String = "f.bin", length: Int64 = 4) -> FileStorage {
    let file = TorrentFile(path: [name], length: length, offset: 0)
    return FileStorage(layout: PieceLayout(pieceLength: 16384, files: [file]), paths: [[name]], folder: folder)
}

/// Permission denied: a folder we may not write to (non-root: mode 0555; root ignores modes, so an
/// immutable file made with `chattr +i`, which even root cannot open for writing).
@Test func unwritableFileIsPermissionDenied() throws {
    let folder = try TemporaryFolder()
    defer {
        _ = run(["chattr", "-i", folder.path + "/f.bin"])
        chmod(folder.path, 0o755)
        folder.cleanup()
    }
    let log = EventLog()
    let file = TorrentFile(path: ["f.bin"], length: 4, offset: 0)
    let storage = FileStorage(
        layout: PieceLayout(pieceLength: 16384, files: [file]), paths: [["f.bin"]], folder: folder.path,
        events: log.handler)
    if geteuid() == 0 {
        FileManager.default.createFile(atPath: folder.path + "/f.bin", contents: Data([0]))
        try #require(run(["chattr", "+i", folder.path + "/f.bin"]) == 0, "chattr +i is needed to deny root")
    } else {
        chmod(folder.path, 0o555)
    }
    let error = #expect(throws: StorageError.self) { try writeOne(storage) }
    #expect(error?.code == .permissionDenied)
    #expect(error?.operation == .open)
    #expect(error?.path?.hasSuffix("/f.bin") == true)
    let reported = log.events.contains { event in
        guard case .fileError(let ref?, _, let reportedError) = event else { return false }
        return ref.index == 0 && reportedError == error
    }
    #expect(reported, "file_error event with the file and the error")
}

/// Disk full, read-only volume and file too large, on small tmpfs mounts (needs root and mount rights:
/// otherwise the test says so and is skipped unless NBT_REQUIRE_INTEROP=1).
@Test func diskFullReadOnlyVolumeAndFileTooLargeAreTyped() throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let small = folder.path + "/small"
    let readOnly = folder.path + "/ro"
    try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: true)
    guard geteuid() == 0, run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", small]) == 0 else {
        if ProcessInfo.processInfo.environment["NBT_REQUIRE_INTEROP"] == "1" { Issue.record("cannot mount tmpfs") }
        return
    }
    defer { _ = run(["umount", small]) }
    let full = storage(in: small, length: 1 << 20)
    let error = #expect(throws: StorageError.self) { try writeOne(full, count: 1 << 20) }
    #expect(error?.code == .diskFull)
    #expect(error?.operation == .write)

    try #require(run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", readOnly]) == 0)
    defer { _ = run(["umount", readOnly]) }
    let roError = #expect(throws: StorageError.self) { try writeOne(storage(in: readOnly)) }
    #expect(roError?.code == .readOnlyVolume)

    // ext4 (16 TiB) refuses offsets past its maximum file size with EFBIG.
    let big = storage(in: folder.path, name: "big.bin", length: Int64(1) << 46)
    let bigError = #expect(throws: StorageError.self) {
        try [UInt8](repeating: 1, count: 4).withUnsafeBytes { try big.write(file: 0, offset: Int64(1) << 45, from: $0) }
    }
    #expect(bigError?.code == .fileTooLarge)
    #expect(bigError?.path?.hasSuffix("big.bin") == true)
}

/// Verified data that vanished while seeding: a typed `fileChanged` error, and the piece is no longer ours.
@Test func verifiedDataThatVanishedIsFileChanged() async throws {
    var generator = SeededGenerator(seed: 31)
    let fixture = Fixture.v1(sizes: [32768], pieceLength: 16384, generator: &generator)
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    try fixture.writeFiles(to: folder.path)
    let store = PieceStore(
        torrent: fixture.torrent, storage: FileStorage(torrent: fixture.torrent, folder: folder.path))
    #expect(try await store.checkExistingData().isAllSet)
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: fixture.path(ofFile: 0, in: folder.path)))
    try handle.truncate(atOffset: 20000)
    try handle.close()
    let error = await #expect(throws: StorageError.self) {
        try await store.readBlock(piece: 1, offset: 0, length: 16384)
    }
    #expect(error?.code == .fileChanged)
    #expect(await store.verifiedPieces[1] == false)
    #expect(await store.verifiedPieces[0] == true)
}
