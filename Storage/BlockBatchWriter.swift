import BTMetainfo

/// The worker-thread half of `PieceStore.writeBlocks(_:)`: writes a batch of blocks in one hop to a
/// worker, one gathered write per run of adjacent blocks of a piece, and feeds each written run to its
/// piece's ``IncrementalPieceHash``.
///
/// It exists because one worker hop, one continuation and one `pwrite` per 16 KiB block were together
/// about two fifths of the downloader's CPU time in the download benchmark.
enum BlockBatchWriter {
    /// One block of the batch; `index` is its position in the caller's batch.
    struct Entry: Sendable {
        let index: Int
        let piece: Int
        let offset: Int
        let generation: Int
        let bytes: BlockBytes
    }

    /// What the hop did.
    struct Outcome: Sendable {
        /// Errors by entry index; an entry not here was written.
        var failures: [Int: StorageError] = [:]
        /// The hashes handed in, advanced; a piece missing here had a write fail and hashes from disk.
        var hashes: [Int: IncrementalPieceHash] = [:]
    }

    /// Writes `entries` (sorted by piece, then offset) into `storage`, advancing `hashes` (by piece).
    static func run(
        _ entries: [Entry], hashes: [Int: IncrementalPieceHash], storage: any Storage, layout: PieceLayout
    ) -> Outcome {
        var outcome = Outcome(hashes: hashes)
        var start = 0
        while start < entries.count {
            // A run: blocks of one piece, each starting where the previous ended.
            var end = start + 1
            while end < entries.count, entries[end].piece == entries[start].piece,
                entries[end].offset == entries[end - 1].offset + entries[end - 1].bytes.count
            {
                end += 1
            }
            let run = entries[start..<end]
            let piece = entries[start].piece
            let offset = entries[start].offset
            do {
                try withBuffers(of: run[...]) { buffers in
                    try storage.writePiece(piece, offset: offset, from: buffers)
                    outcome.hashes[piece]?.feed(offset: offset, buffers, pieceSize: layout.size(ofPiece: piece))
                }
            } catch {
                let failure = PieceStore.storageError(error, .write)
                for entry in run { outcome.failures[entry.index] = failure }
                outcome.hashes[piece] = nil
            }
            start = end
        }
        return outcome
    }

    /// Calls `body` with the bytes of every entry of `run`, in order, without copying them (each block's
    /// storage, array or buffer, stays pinned by the nested `withUnsafeBytes`; runs are at most a piece's blocks long).
    private static func withBuffers(
        of run: ArraySlice<Entry>, _ collected: [UnsafeRawBufferPointer] = [],
        _ body: ([UnsafeRawBufferPointer]) throws -> Void
    ) throws {
        guard let first = run.first else { return try body(collected) }
        try first.bytes.withUnsafeBytes { try withBuffers(of: run.dropFirst(), collected + [$0], body) }
    }
}
