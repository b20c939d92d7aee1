import BTMetainfo
import BTStorage
import Foundation
import Testing

/// A torrent made by libtorrent over random files, described by Fixtures/libtorrent_make_torrent.py.
private struct LibtorrentTorrent: Decodable {
    struct File: Decodable {
        var path: [String]
        var length: Int64
        var offset: Int64
        var pad: Bool
        var root: String?
    }
    var pieceLength: Int
    var pieceCount: Int
    var files: [File]
    var v1Hashes: String
    var layers: [String: String]
    var infoHashV1: String?
    var infoHashV2: String?

    func torrent(version: TorrentVersion) -> Torrent {
        let entries = files.map {
            TorrentFile(
                path: $0.path, length: $0.length, offset: $0.offset, attributes: $0.pad ? "p" : "",
                piecesRoot: $0.root.map { hex($0) })
        }
        var layerMap: [[UInt8]: [UInt8]] = [:]
        for (root, layer) in layers { layerMap[hex(root)] = hex(layer) }
        return Torrent(
            version: version, infoHashes: InfoHashes(v1: infoHashV1.map { hex($0) }, v2: infoHashV2.map { hex($0) }),
            name: "data", pieceLength: pieceLength, files: entries, isSingleFile: false, pieceHashes: hex(v1Hashes),
            pieceLayers: layerMap, infoBytes: [])
    }
}

private func hex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

private func makeWithLibtorrent(folder: String, mode: String, pieceLength: Int) throws -> LibtorrentTorrent? {
    let python = ProcessInfo.processInfo.environment["NBT_PYTHON"] ?? "/usr/bin/python3"
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures/libtorrent_make_torrent.py")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script.path, folder, mode, "\(pieceLength)"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    watchdog.cancel()
    guard process.terminationStatus == 0 else { return nil }
    return try JSONDecoder().decode(LibtorrentTorrent.self, from: data)
}

/// v2 and hybrid torrents created by libtorrent verify against the data on disk (hash check, read and mapped,
/// and block-by-block download), and a flipped byte fails exactly its piece, under both the v1 and the v2
/// hashes.
@Test(arguments: [("v2", 16384), ("hybrid", 16384), ("v2", 65536), ("hybrid", 32768), ("v1", 16384)])
func libtorrentTorrentsVerifyAgainstDataOnDisk(mode: String, pieceLength: Int) async throws {
    var generator = SeededGenerator(seed: UInt64(pieceLength) &+ UInt64(mode.count))
    let folder = try TemporaryFolder("nbt-lt")
    defer { folder.cleanup() }
    // Files smaller than a block, than a piece, exactly a piece, several pieces with a short tail, and empty.
    let sizes = [100, 5000, pieceLength, 3 * pieceLength + 12345, 0, 200_000, 16384 * 3 + 1]
    for (index, size) in sizes.enumerated() {
        let sub = folder.path + "/data/" + (index % 2 == 0 ? "" : "sub/")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try Data(bytes).write(to: URL(fileURLWithPath: sub + "file\(index).bin"))
    }
    guard let made = try makeWithLibtorrent(folder: folder.path, mode: mode, pieceLength: pieceLength) else {
        if ProcessInfo.processInfo.environment["NBT_REQUIRE_INTEROP"] == "1" {
            Issue.record("python3-libtorrent is not available")
        }
        return
    }
    let version: TorrentVersion = mode == "v1" ? .v1 : (mode == "v2" ? .v2 : .hybrid)
    let torrent = made.torrent(version: version)
    #expect(torrent.pieceCount == made.pieceCount)
    let paths = torrent.files.map(\.path)
    let storage = FileStorage(layout: torrent.layout, paths: paths, folder: folder.path)
    let store = PieceStore(torrent: torrent, storage: storage)
    #expect(try await store.checkExistingData().isAllSet, "\(mode) torrent does not verify")
    #expect(try await store.checkExistingData(mode: .mapped).isAllSet, "\(mode) torrent does not verify mapped")

    // Flip one byte in the middle of the big file: exactly its piece fails.
    let bigIndex = torrent.files.firstIndex { $0.length == 200_000 }!
    let big = torrent.files[bigIndex]
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: folder.path + "/" + big.path.joined(separator: "/")))
    try handle.seek(toOffset: 150_000)
    let old = try handle.read(upToCount: 1)![0]
    try handle.seek(toOffset: 150_000)
    try handle.write(contentsOf: [old ^ 1])
    try handle.close()
    let after = try await store.checkExistingData()
    #expect(Set((0..<torrent.pieceCount).filter { !after[$0] }) == [Int((big.offset + 150_000) / Int64(pieceLength))])
    let afterMapped = try await store.checkExistingData(mode: .mapped)
    #expect(afterMapped.setIndexes == after.setIndexes, "the mapped check agrees with the read check")

    // Downloaded block by block into a fresh folder, every piece passes as it completes (merkle per piece).
    let fresh = folder.path + "/fresh"
    let source = FileStorage(layout: torrent.layout, paths: paths, folder: folder.path)
    let copy = PieceStore(torrent: torrent, storage: FileStorage(layout: torrent.layout, paths: paths, folder: fresh))
    var failed: [Int] = []
    for piece in (0..<torrent.pieceCount).shuffled(using: &generator) {
        for block in 0..<copy.blockCount(ofPiece: piece) {
            var bytes = [UInt8](repeating: 0, count: copy.blockLength(piece: piece, block: block))
            _ = try bytes.withUnsafeMutableBytes { try source.readPiece(piece, offset: block * 16384, into: $0) }
            if case .pieceFailed = try await copy.writeBlock(
                piece: piece, offset: block * 16384, bytes: bytes, from: .local)
            {
                failed.append(piece)
            }
        }
    }
    #expect(failed == [Int((big.offset + 150_000) / Int64(pieceLength))], "only the piece with the flipped byte fails")
}
