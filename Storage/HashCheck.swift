import BTMetainfo
import Crypto

/// How far a hash check has got.
public struct CheckProgress: Hashable, Sendable {
    /// Pieces checked so far.
    public var checked: Int
    /// Pieces to check in total.
    public var total: Int
    /// Pieces found good so far.
    public var verified: Int
    /// Bytes read so far.
    public var bytes: Int64
    /// Fraction done, 0...1.
    public var fraction: Double { total == 0 ? 1 : Double(checked) / Double(total) }
}

/// Checks existing data against the torrent's hashes (the seed's `hashcheck`): pieces are handed out in
/// ascending runs to one worker per core, each reading sequentially (with a read-ahead hint one run ahead)
/// and hashing what it read. Pieces whose files are missing or short are simply not verified.
package struct HashCheck: Sendable {
    /// Bytes read and hashed at a time for v1 pieces.
    static let chunkSize = 256 * 1024

    let storage: any Storage
    let verifier: PieceVerifier
    let pool: WorkerPool

    /// Verifies `pieces` (ascending), calling `progress` from worker threads (after each piece); returns the
    /// pieces that passed. Cancelling the task stops the workers and throws ``StorageError/Code/cancelled``.
    package func run(
        pieces: [Int], progress: (@Sendable (CheckProgress) -> Void)? = nil,
        onPiece: (@Sendable (Int, Bool) -> Void)? = nil
    ) async throws -> Bitfield {
        let layout = storage.layout
        let shared = Locked(Shared(result: Bitfield(count: layout.pieceCount)))
        let cancelled = Locked(false)
        let runLength = max(1, min(64, (8 << 20) / max(1, layout.pieceLength)))
        let runs = stride(from: 0, to: pieces.count, by: runLength).map { $0..<min($0 + runLength, pieces.count) }
        let storage = self.storage
        let verifier = self.verifier
        let width = pool.width
        let total = pieces.count
        try await withTaskCancellationHandler {
            try await pool.runOnAll { _ in
                var buffer = [UInt8](repeating: 0, count: layout.pieceLength)
                while true {
                    if cancelled.withLock({ $0 }) { return }
                    let claimed: Int? = shared.withLock { state in
                        guard state.nextRun < runs.count else { return nil }
                        defer { state.nextRun += 1 }
                        return state.nextRun
                    }
                    guard let run = claimed else { return }
                    if let files = storage as? FileStorage, run + width < runs.count {
                        let ahead = runs[run + width]
                        let start = layout.offset(ofPiece: pieces[ahead.lowerBound])
                        let last = pieces[ahead.upperBound - 1]
                        let end = layout.offset(ofPiece: last) + Int64(layout.size(ofPiece: last))
                        for slice in layout.slices(streamOffset: start, length: Int(end - start))
                        where !layout.files[slice.fileIndex].isPadFile {
                            files.prefetch(file: slice.fileIndex, offset: slice.offsetInFile, length: slice.length)
                        }
                    }
                    for position in runs[run] {
                        if cancelled.withLock({ $0 }) { return }
                        let piece = pieces[position]
                        let size = layout.size(ofPiece: piece)
                        let good: Bool
                        if verifier.isV1Only {
                            // Read and hash in cache-sized chunks: the bytes are hashed while still in L2.
                            var hasher = Insecure.SHA1()
                            var done = 0
                            var complete = true
                            while complete && done < size {
                                let count = min(Self.chunkSize, size - done)
                                complete = try buffer.withUnsafeMutableBytes { raw -> Bool in
                                    let view = UnsafeMutableRawBufferPointer(rebasing: raw[0..<count])
                                    guard try storage.readPiece(piece, offset: done, into: view) else { return false }
                                    hasher.update(bufferPointer: UnsafeRawBufferPointer(view))
                                    return true
                                }
                                done += count
                            }
                            good = complete && verifier.matchesV1(piece: piece, digest: hasher.finalize())
                        } else {
                            good = try buffer.withUnsafeMutableBytes { raw -> Bool in
                                let view = UnsafeMutableRawBufferPointer(rebasing: raw[0..<size])
                                guard try storage.readPiece(piece, into: view) else { return false }
                                return verifier.verify(piece: piece, data: UnsafeRawBufferPointer(view))
                            }
                        }
                        onPiece?(piece, good)
                        let snapshot = shared.withLock { state -> CheckProgress in
                            if good { state.result[piece] = true }
                            state.checked += 1
                            state.bytes += Int64(size)
                            return CheckProgress(
                                checked: state.checked, total: total, verified: state.result.setCount,
                                bytes: state.bytes)
                        }
                        progress?(snapshot)
                    }
                }
            }
        } onCancel: {
            cancelled.withLock { $0 = true }
        }
        if cancelled.withLock({ $0 }) || Task.isCancelled {
            throw StorageError(.cancelled, .check, path: nil, reason: "hash check cancelled")
        }
        return shared.withLock { $0.result }
    }

    private struct Shared {
        var result: Bitfield
        var nextRun = 0
        var checked = 0
        var bytes: Int64 = 0
    }
}
