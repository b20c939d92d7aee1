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
/// ascending runs to one worker per core, each reading its run with positioned reads in cache-sized chunks
/// and hashing each chunk while it is still in L2. Pieces whose files are missing or short are simply not
/// verified.
///
/// Read-ahead adapts to the page cache: a ``FileStorage`` is first read with page-cache-only reads
/// (``FileStorage/readCached(file:offset:into:)``). While everything comes from the cache no hint is given
/// (on a warm cache the hints only cost page-cache lookups); from the first byte that has to come from disk
/// on, `WILLNEED` hints keep ``readAheadBytes`` in flight ahead of the furthest run handed out, so the disk
/// stays busy while the workers hash.
///
/// In ``HashCheckMode/mapped`` (Linux, ``FileStorage``) each claimed run is mapped and hashed in place by
/// ``MappedRun`` instead (its pieces are reported once the whole run is hashed and its files re-checked);
/// a run that cannot be mapped is read as above.
package struct HashCheck: Sendable {
    /// Bytes read and hashed at a time for v1 pieces.
    static let chunkSize = 256 * 1024
    /// Bytes handed to a worker at a time (rounded to whole pieces, at most 64 pieces).
    static let runBytes = 8 << 20
    /// Bytes of read-ahead kept in flight once the data turns out not to be cached.
    static let readAheadBytes = 64 << 20

    let storage: any Storage
    let verifier: PieceVerifier
    let pool: WorkerPool
    /// How a ``FileStorage`` is read (``HashCheckMode/mapped``: see ``MappedRun``; Linux only).
    var mode: HashCheckMode = .read
    /// Test hook of the mapped mode: called on the worker thread with a run's pieces once they are mapped,
    /// before any of them is hashed (a test truncates a file here).
    var afterMapping: (@Sendable ([Int]) -> Void)? = nil

    /// A check of `storage`'s data against `verifier`, on `pool`'s threads, reading as `mode` says.
    package init(
        storage: any Storage, verifier: PieceVerifier, pool: WorkerPool, mode: HashCheckMode = .read,
        afterMapping: (@Sendable ([Int]) -> Void)? = nil
    ) {
        self.storage = storage
        self.verifier = verifier
        self.pool = pool
        self.mode = mode
        self.afterMapping = afterMapping
    }

    /// Verifies `pieces` (ascending), calling `progress` from worker threads (after each piece); returns the
    /// pieces that passed. Cancelling the task stops the workers and throws ``StorageError/Code/cancelled``.
    package func run(
        pieces: [Int], progress: (@Sendable (CheckProgress) -> Void)? = nil,
        onPiece: (@Sendable (Int, Bool) -> Void)? = nil
    ) async throws -> Bitfield {
        let layout = storage.layout
        let shared = Locked(Shared(result: Bitfield(count: layout.pieceCount)))
        let cancelled = Locked(false)
        let runLength = max(1, min(64, Self.runBytes / max(1, layout.pieceLength)))
        let runs = stride(from: 0, to: pieces.count, by: runLength).map { $0..<min($0 + runLength, pieces.count) }
        let lookahead = max(pool.width, Self.readAheadBytes / max(1, runLength * layout.pieceLength))
        let storage = self.storage
        let files = storage as? FileStorage
        let verifier = self.verifier
        let total = pieces.count
        #if os(Linux)
            let mapped = mode == .mapped ? files : nil
            let afterMapping = self.afterMapping
        #endif
        try await withTaskCancellationHandler {
            try await pool.runOnAll { _ in
                var buffer = [UInt8](repeating: 0, count: verifier.isV1Only ? Self.chunkSize : layout.pieceLength)
                while true {
                    if cancelled.withLock({ $0 }) { return }
                    let claimed: (run: Int, hint: Range<Int>)? = shared.withLock { state in
                        guard state.nextRun < runs.count else { return nil }
                        defer { state.nextRun += 1 }
                        var hint = state.nextRun..<state.nextRun
                        if state.sawUncached {
                            let end = min(runs.count, state.nextRun + 1 + lookahead)
                            hint = max(state.hintedUpTo, state.nextRun)..<max(end, state.hintedUpTo)
                            state.hintedUpTo = hint.upperBound
                        }
                        return (state.nextRun, hint)
                    }
                    guard let (run, hint) = claimed else { return }
                    if let files, !hint.isEmpty {
                        Self.prefetch(
                            files,
                            pieces: pieces[runs[hint.lowerBound].lowerBound..<runs[hint.upperBound - 1].upperBound])
                    }
                    #if os(Linux)
                        if let mapped,
                            let outcome = try MappedRun.check(
                                mapped, pieces: pieces[runs[run]], verifier: verifier, scratch: &buffer,
                                afterMapping: afterMapping, cancelled: { cancelled.withLock { $0 } })
                        {
                            for (piece, good) in outcome.results {
                                onPiece?(piece, good)
                                let snapshot = shared.withLock { state -> CheckProgress in
                                    if good { state.result[piece] = true }
                                    if outcome.uncached { state.sawUncached = true }
                                    state.checked += 1
                                    state.bytes += Int64(layout.size(ofPiece: piece))
                                    return CheckProgress(
                                        checked: state.checked, total: total, verified: state.result.setCount,
                                        bytes: state.bytes)
                                }
                                progress?(snapshot)
                            }
                            continue
                        }
                    #endif
                    var uncached = false
                    for position in runs[run] {
                        if cancelled.withLock({ $0 }) { return }
                        let piece = pieces[position]
                        let size = layout.size(ofPiece: piece)
                        let good: Bool
                        if verifier.isV1Only {
                            var hasher = Insecure.SHA1()
                            var done = 0
                            var complete = true
                            while complete && done < size {
                                let count = min(Self.chunkSize, size - done)
                                complete = try buffer.withUnsafeMutableBytes { raw -> Bool in
                                    let view = UnsafeMutableRawBufferPointer(rebasing: raw[0..<count])
                                    guard
                                        try Self.read(
                                            storage, files, piece, offset: done, into: view, uncached: &uncached)
                                    else { return false }
                                    hasher.update(bufferPointer: UnsafeRawBufferPointer(view))
                                    return true
                                }
                                done += count
                            }
                            good = complete && verifier.matchesV1(piece: piece, digest: hasher.finalize())
                        } else {
                            good = try buffer.withUnsafeMutableBytes { raw -> Bool in
                                let view = UnsafeMutableRawBufferPointer(rebasing: raw[0..<size])
                                guard try Self.read(storage, files, piece, offset: 0, into: view, uncached: &uncached)
                                else { return false }
                                return verifier.verify(piece: piece, data: UnsafeRawBufferPointer(view))
                            }
                        }
                        onPiece?(piece, good)
                        let snapshot = shared.withLock { state -> CheckProgress in
                            if good { state.result[piece] = true }
                            if uncached { state.sawUncached = true }
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

    /// Reads `buffer.count` bytes at `offset` in `piece` like ``Storage/readPiece(_:offset:into:)``; from a
    /// ``FileStorage`` the page cache is tried first, and `uncached` is set when a byte had to come from disk.
    private static func read(
        _ storage: any Storage, _ files: FileStorage?, _ piece: Int, offset: Int,
        into buffer: UnsafeMutableRawBufferPointer, uncached: inout Bool
    ) throws -> Bool {
        guard let files else { return try storage.readPiece(piece, offset: offset, into: buffer) }
        return try files.readPiece(piece, offset: offset, into: buffer) { file, fileOffset, target in
            var count = try files.readCached(file: file, offset: fileOffset, into: target) ?? 0
            if count < target.count {
                let rest = try files.read(
                    file: file, offset: fileOffset + Int64(count),
                    into: UnsafeMutableRawBufferPointer(rebasing: target[count...]))
                if rest > 0 { uncached = true }
                count += rest
            }
            return count
        }
    }

    /// Asks the kernel to start reading the bytes of `pieces` (ascending), one hint per contiguous stretch
    /// and file.
    private static func prefetch(_ files: FileStorage, pieces: ArraySlice<Int>) {
        let layout = files.layout
        var index = pieces.startIndex
        while index < pieces.endIndex {
            var last = index
            while last + 1 < pieces.endIndex && pieces[last + 1] == pieces[last] + 1 { last += 1 }
            let start = layout.offset(ofPiece: pieces[index])
            let end = layout.offset(ofPiece: pieces[last]) + Int64(layout.size(ofPiece: pieces[last]))
            for slice in layout.slices(streamOffset: start, length: Int(end - start))
            where !layout.files[slice.fileIndex].isPadFile {
                files.prefetch(file: slice.fileIndex, offset: slice.offsetInFile, length: slice.length)
            }
            index = last + 1
        }
    }

    private struct Shared {
        var result: Bitfield
        var nextRun = 0
        /// Runs below this index have had their read-ahead hint.
        var hintedUpTo = 0
        /// Whether some byte had to come from disk (from then on, read-ahead hints are given).
        var sawUncached = false
        var checked = 0
        var bytes: Int64 = 0
    }
}
