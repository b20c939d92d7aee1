import ArgumentParser
import BTMetainfo
import BTStorage
import Crypto
import Foundation

/// Hidden helper for the kill -9 test: downloads the files of `--source` into `--target` block by block in
/// random order (as if from peers, with an occasional corrupt block), saving resume data every few blocks,
/// and starting from that resume data when it exists. Prints `verified N` for each piece as it passes.
struct StorageSoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_storage-soak", abstract: "Storage crash-consistency soak helper (tests only).",
        shouldDisplay: false)

    @Option(help: "Folder holding the original files.") var source: String
    @Option(help: "Folder to download into.") var target: String
    @Option(help: "Resume data file.") var resume: String
    @Option(help: "Piece length in bytes.") var pieceLength: Int = 32768
    @Option(help: "Save resume data every N blocks.") var saveEvery: Int = 16
    @Option(help: "Percent of blocks sent corrupt.") var corruptPercent: Int = 3
    @Option(help: "Pause after each block, in microseconds (paces the download like a network).")
    var blockDelayMicroseconds: Int = 0

    func run() async throws {
        let (layout, paths, original) = try Self.sourceStorage(source, pieceLength: pieceLength)
        var hashes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: pieceLength)
        for piece in 0..<layout.pieceCount {
            let size = layout.size(ofPiece: piece)
            let digest = try buffer.withUnsafeMutableBytes { raw in
                let view = UnsafeMutableRawBufferPointer(rebasing: raw[0..<size])
                _ = try original.readPiece(piece, into: view)
                return Array(Insecure.SHA1.hash(data: UnsafeRawBufferPointer(view)))
            }
            hashes += digest
        }
        let torrent = Torrent(
            version: .v1, infoHashes: InfoHashes(v1: Array(Insecure.SHA1.hash(data: hashes)), v2: nil), name: "soak",
            pieceLength: pieceLength, files: layout.files, isSingleFile: false, pieceHashes: hashes, infoBytes: [])
        let store = PieceStore(torrent: torrent, storage: FileStorage(layout: layout, paths: paths, folder: target))
        let outcome = try await store.start(resumeDataAt: resume)
        Self.say("start \(outcome) verified \(await store.verifiedPieces.setCount)/\(layout.pieceCount)")

        var queue: [(piece: Int, block: Int)] = []
        for piece in 0..<layout.pieceCount {
            for block in await store.missingBlocks(ofPiece: piece) { queue.append((piece, block)) }
        }
        queue.shuffle()
        var written = 0
        while let next = queue.popLast() {
            let (piece, block) = next
            let start = block * PieceStore.blockSize
            let length = store.blockLength(piece: piece, block: block)
            var bytes = [UInt8](repeating: 0, count: length)
            _ = try bytes.withUnsafeMutableBytes { try original.readPiece(piece, offset: start, into: $0) }
            var peer = PeerTag(1)
            if Int.random(in: 0..<100) < corruptPercent {
                bytes[Int.random(in: 0..<length)] ^= 0x5a
                peer = PeerTag(666)
            }
            switch try await store.writeBlock(piece: piece, offset: start, bytes: bytes, from: peer) {
            case .pieceVerified(let index, _):
                Self.say("verified \(index)")
            case .pieceFailed(let index, _, _):
                let again = await store.missingBlocks(ofPiece: index).map { (index, $0) }
                queue.insert(contentsOf: again, at: Int.random(in: 0...queue.count))
            case .stored, .duplicate:
                break
            }
            written += 1
            if blockDelayMicroseconds > 0 { try await Task.sleep(for: .microseconds(blockDelayMicroseconds)) }
            if written % saveEvery == 0 { try await store.saveResumeData(to: resume) }
        }
        try await store.createEmptyFiles()
        try await store.saveResumeData(to: resume)
        guard await store.isComplete else { throw ValidationError("finished with missing pieces") }
        Self.say("complete")
    }

    /// Writes a line to standard output unbuffered (the parent reads it even after a SIGKILL).
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// The layout of the files under `source` (in `listFiles` order) and a storage reading them in place.
    static func sourceStorage(
        _ source: String, pieceLength: Int
    ) throws -> (layout: PieceLayout, paths: [[String]], storage: FileStorage) {
        let files = try listFiles(source)
        var torrentFiles: [TorrentFile] = []
        var offset: Int64 = 0
        for (path, size) in files {
            torrentFiles.append(TorrentFile(path: path, length: size, offset: offset))
            offset += size
        }
        let layout = PieceLayout(pieceLength: pieceLength, files: torrentFiles)
        let paths = files.map(\.path)
        return (layout, paths, FileStorage(layout: layout, paths: paths, folder: source))
    }

    /// Regular files under `folder`, sorted by path, with sizes.
    static func listFiles(_ folder: String) throws -> [(path: [String], size: Int64)] {
        let root = URL(fileURLWithPath: folder)
        guard
            let enumerator = FileManager.default.enumerator(
                at: root, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey])
        else { throw ValidationError("cannot list \(folder)") }
        var result: [(path: [String], size: Int64)] = []
        for case let url as URL in enumerator {
            let values = try url.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey])
            guard values.isRegularFile == true else { continue }
            let relative = url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1)
            result.append((relative.split(separator: "/").map(String.init), Int64(values.fileSize ?? 0)))
        }
        return result.sorted { $0.path.joined(separator: "/") < $1.path.joined(separator: "/") }
    }
}

/// Hidden helper for Benchmarks/storage/run: writes every block of the files in `--source` (preloaded into
/// memory) in random order into a fresh `--target`, several blocks in flight, hashing pieces as they
/// complete, and prints the throughput.
struct StorageWriteBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_storage-write-bench", abstract: "Random 16 KiB block write benchmark (benchmarks only).",
        shouldDisplay: false)

    @Option(help: "Folder holding the original files.") var source: String
    @Option(help: "Folder to write into (should not exist).") var target: String
    @Option(help: "Piece length in bytes.") var pieceLength: Int = 262_144
    @Option(help: "Blocks in flight.") var concurrency: Int = 16

    func run() async throws {
        let (layout, paths, original) = try StorageSoakCommand.sourceStorage(source, pieceLength: pieceLength)
        var pieces: [[UInt8]] = []
        var hashes: [UInt8] = []
        for piece in 0..<layout.pieceCount {
            var bytes = [UInt8](repeating: 0, count: layout.size(ofPiece: piece))
            _ = try bytes.withUnsafeMutableBytes { try original.readPiece(piece, into: $0) }
            hashes += Insecure.SHA1.hash(data: bytes)
            pieces.append(bytes)
        }
        let torrent = Torrent(
            version: .v1, infoHashes: InfoHashes(v1: Array(Insecure.SHA1.hash(data: hashes)), v2: nil), name: "bench",
            pieceLength: pieceLength, files: layout.files, isSingleFile: false, pieceHashes: hashes, infoBytes: [])
        let store = PieceStore(torrent: torrent, storage: FileStorage(layout: layout, paths: paths, folder: target))
        var blocks: [(Int, Int)] = []
        for piece in 0..<layout.pieceCount {
            for block in 0..<store.blockCount(ofPiece: piece) { blocks.append((piece, block)) }
        }
        blocks.shuffle()
        let started = ContinuousClock.now
        let chunk = (blocks.count + concurrency - 1) / concurrency
        let work = blocks
        let allPieces = pieces
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<concurrency {
                group.addTask {
                    for (piece, block) in work[min(work.count, lane * chunk)..<min(work.count, (lane + 1) * chunk)] {
                        let start = block * PieceStore.blockSize
                        let bytes = Array(
                            allPieces[piece][start..<min(start + PieceStore.blockSize, allPieces[piece].count)])
                        _ = try await store.writeBlock(piece: piece, offset: start, bytes: bytes, from: .local)
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard await store.isComplete else { throw ValidationError("not every piece verified") }
        print(
            "blocks=\(blocks.count) bytes=\(layout.totalLength) seconds=\(String(format: "%.3f", seconds)) "
                + "MiBps=\(String(format: "%.1f", Double(layout.totalLength) / seconds / 1_048_576))")
    }
}
