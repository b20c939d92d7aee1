import BTMetainfo
import NIOCore

/// What happened to a block handed to ``PieceStore/writeBlock(piece:offset:bytes:from:)``.
public enum BlockWriteResult: Hashable, Sendable {
    /// Written; the piece still misses blocks.
    case stored
    /// Ignored: the piece is already verified, or this block is already written or being written.
    case duplicate
    /// Written, and it completed the piece, whose hash passed: the piece is ours. `peers` are those that
    /// sent its blocks (seed 001: reputation +10 each; a peer on parole that sent them all leaves parole).
    case pieceVerified(piece: Int, peers: Set<PeerTag>)
    /// Written, it completed the piece, and the piece failed its hash: every block of it is discarded and
    /// `peers` are those that sent blocks of it (seed 001: reputation -20 each). `blocks` names each block's
    /// sender and hash, so the bad blocks can be found (a v2 piece's from BEP 52 block hashes, a v1 piece's
    /// once it verifies; nil when the piece could not be read back).
    case pieceFailed(piece: Int, peers: Set<PeerTag>, blocks: FailedPieceBlocks? = nil)
}

/// How a store was started from its resume data.
public enum StartOutcome: Hashable, Sendable {
    /// No resume data existed: every piece was hash-checked.
    case fullCheck
    /// Resume data was unusable (corrupt, another torrent): every piece was hash-checked.
    case fullCheckAfterInvalidResumeData(reason: String)
    /// Resume data was used; the pieces of `changedFiles` (size or time differed) were re-checked.
    case resumed(changedFiles: [Int], recheckedPieces: Int)
}

/// The storage side of one torrent: takes blocks as they arrive, verifies each piece once its blocks are
/// all written, serves verified blocks, checks existing data, and saves and restores resume data.
///
/// A piece counts as ours (``verifiedPieces``) only after every write to it succeeded and its hash passed,
/// over the bytes as they were written (v1, blocks in order) or as read back from storage. All I/O and hashing run on a
/// ``WorkerPool``; the actor only keeps the books.
public actor PieceStore {
    /// Size of a block (the unit of requests, BEP 3; the leaf size of BEP 52 merkle trees).
    public static let blockSize = 16 * 1024

    /// The torrent.
    public nonisolated let torrent: Torrent
    /// Where its bytes live.
    public nonisolated let storage: any Storage
    private nonisolated let layout: PieceLayout
    private nonisolated let verifier: PieceVerifier
    package nonisolated let pool: WorkerPool
    private nonisolated let events: StorageEventHandler?

    /// Pieces that passed their hash and are on disk.
    public private(set) var verifiedPieces: Bitfield
    /// Per-file priorities (pad files included, always `.normal`).
    public private(set) var priorities: [FilePriority]
    private var partial: [Int: PartialPiece] = [:]
    private var renamed: [Int: [String]] = [:]
    private var createdEmptyFiles = false

    private var nextGeneration = 0
    /// The save in progress (or the last one): each save waits for the one before, so saves run one at a
    /// time and the last to finish wrote the newest snapshot.
    private var lastSave: Task<Void, any Error>?
    /// What the last successful save wrote, so a periodic save can skip writing when nothing changed.
    private var lastSaved: (path: String, data: ResumeData)?

    private struct PartialPiece {
        var written: Bitfield
        var inFlight: Set<Int> = []
        /// The sender of each block written, by block: the one record of who contributed to the piece (its
        /// peers when it completes, and each bad block's sender when a v2 piece fails).
        var senders: [Int: PeerTag] = [:]
        var hashing = false
        /// Tells these books from a later set for the same piece (after a re-check or data removal), so a
        /// batch that was writing meanwhile does not touch the new ones.
        var generation = 0
        /// Running SHA-1 over the blocks written in order (nil: read the piece back when it completes).
        var hash: IncrementalPieceHash? = nil
        /// A batch is writing with `hash` and will hand it back.
        var hashCheckedOut = false
    }

    /// A store for `torrent` over `storage`, doing its I/O on `pool` and reporting to `events`. Starts with
    /// nothing verified: call ``start(resumeDataAt:progress:)`` or ``checkExistingData(mode:progress:)``.
    public init(torrent: Torrent, storage: any Storage, pool: WorkerPool = .shared, events: StorageEventHandler? = nil)
    {
        self.torrent = torrent
        self.storage = storage
        self.layout = storage.layout
        self.verifier = PieceVerifier(torrent: torrent)
        self.pool = pool
        self.events = events
        self.verifiedPieces = Bitfield(count: storage.layout.pieceCount)
        self.priorities = Array(repeating: .normal, count: storage.layout.files.count)
    }

    /// Number of blocks of piece `piece`.
    public nonisolated func blockCount(ofPiece piece: Int) -> Int {
        (layout.size(ofPiece: piece) + Self.blockSize - 1) / Self.blockSize
    }

    /// Length of block `block` of piece `piece` (the last block of the last piece may be short).
    public nonisolated func blockLength(piece: Int, block: Int) -> Int {
        min(Self.blockSize, layout.size(ofPiece: piece) - block * Self.blockSize)
    }

    /// Whether every piece is verified.
    public var isComplete: Bool { verifiedPieces.isAllSet }

    /// Pieces holding at least one byte of a file that is not skipped.
    public var wantedPieces: Bitfield {
        var wanted = Bitfield(count: layout.pieceCount)
        for (index, file) in layout.files.enumerated() where !file.isPadFile && priorities[index] != .skip {
            for piece in layout.pieces(ofFile: index) { wanted[piece] = true }
        }
        return wanted
    }

    /// Blocks of `piece` not yet written (and not being written): what to request next.
    public func missingBlocks(ofPiece piece: Int) -> [Int] {
        guard piece >= 0 && piece < layout.pieceCount, !verifiedPieces[piece] else { return [] }
        guard let state = partial[piece] else { return Array(0..<blockCount(ofPiece: piece)) }
        if state.hashing { return [] }
        return (0..<state.written.count).filter { !state.written[$0] && !state.inFlight.contains($0) }
    }

    // MARK: Blocks

    /// Writes one block received from `peer`. `offset` must be a multiple of ``blockSize`` and `bytes` the
    /// block's full length. When the block completes its piece, the piece is hashed before this returns.
    public func writeBlock(piece: Int, offset: Int, bytes: [UInt8], from peer: PeerTag) async throws -> BlockWriteResult
    {
        try await writeBlocks([BlockWrite(piece: piece, offset: offset, bytes: bytes, from: peer)])[0].get()
    }

    /// Writes a batch of blocks in one hop to a worker thread (adjacent blocks of a piece in one gathered
    /// write) and returns each block's outcome, in the order of `blocks`, as ``writeBlock(piece:offset:bytes:from:)``
    /// would have. Pieces the batch completes are hashed before this returns.
    ///
    /// On v1 torrents a piece whose blocks are written in order is hashed from the received bytes as they
    /// are written; when a block came out of order, the completed piece's bytes past the running hash are
    /// read back and fed to it; with no running hash (a failed write, blocks restored from resume data, v2
    /// and hybrid torrents) the whole completed piece is read back and hashed. Either way a piece is verified only when
    /// every one of its writes succeeded and its hash passed. A failed write fails only its own block
    /// (and the blocks written with it in one gathered write, all of one piece).
    public func writeBlocks(_ blocks: [BlockWrite]) async -> [Result<BlockWriteResult, StorageError>] {
        await write(
            blocks.map { PendingWrite(piece: $0.piece, offset: $0.offset, bytes: .array($0.bytes), peer: $0.peer) })
    }

    /// `writeBlocks(_: [BlockWrite])` for blocks in the buffers the network read them into: each
    /// block is written (gathered with its neighbours) and hashed from its buffer's readable bytes, with no
    /// copy. A block whose `request.length` differs from its buffer's readable bytes fails with
    /// ``StorageError/Code/invalidRequest``.
    public func writeBlocks(_ blocks: [ReceivedBlock]) async -> [Result<BlockWriteResult, StorageError>] {
        await write(
            blocks.map {
                PendingWrite(
                    piece: $0.request.piece, offset: $0.request.offset, bytes: .buffer($0.bytes), peer: $0.peer,
                    declaredLength: $0.request.length)
            })
    }

    /// One block on its way through ``write(_:)``.
    struct PendingWrite: Sendable {
        var piece: Int
        var offset: Int
        var bytes: BlockBytes
        var peer: PeerTag
        /// The length the caller gave (nil: the bytes' count); a block whose bytes differ is refused.
        var declaredLength: Int? = nil
    }

    /// The body of both `writeBlocks`.
    private func write(_ blocks: [PendingWrite]) async -> [Result<BlockWriteResult, StorageError>] {
        var results = [Result<BlockWriteResult, StorageError>](repeating: .success(.stored), count: blocks.count)
        if !createdEmptyFiles {
            do {
                try await createEmptyFiles()
            } catch {
                return Array(repeating: .failure(Self.storageError(error, .write)), count: blocks.count)
            }
        }
        var entries: [BlockBatchWriter.Entry] = []
        entries.reserveCapacity(blocks.count)
        var checkedOut: [Int: (generation: Int, hash: IncrementalPieceHash)] = [:]
        for (index, item) in blocks.enumerated() {
            let piece = item.piece
            let offset = item.offset
            guard piece >= 0 && piece < layout.pieceCount, offset >= 0, offset % Self.blockSize == 0,
                offset < layout.size(ofPiece: piece), item.declaredLength.map({ $0 == item.bytes.count }) ?? true,
                item.bytes.count == blockLength(piece: piece, block: offset / Self.blockSize)
            else {
                results[index] = .failure(
                    StorageError(
                        .invalidRequest, .write, path: nil,
                        reason:
                            "block piece \(piece) offset \(offset) length \(item.bytes.count) is not a block of this torrent"
                    ))
                continue
            }
            let block = offset / Self.blockSize
            if verifiedPieces[piece] {
                results[index] = .success(.duplicate)
                continue
            }
            var state = partial[piece] ?? newPartialPiece(piece)
            if state.hashing || state.written[block] || state.inFlight.contains(block) {
                results[index] = .success(.duplicate)
                continue
            }
            state.inFlight.insert(block)
            state.senders[block] = item.peer
            // The running hash travels with the batch; a concurrent batch writing blocks of the same piece
            // leaves it alone (those blocks then stall it, and the piece is read back).
            if checkedOut[piece] == nil, !state.hashCheckedOut, let hash = state.hash {
                state.hashCheckedOut = true
                checkedOut[piece] = (state.generation, hash)
            }
            partial[piece] = state
            entries.append(
                BlockBatchWriter.Entry(
                    index: index, piece: piece, offset: offset, generation: state.generation, bytes: item.bytes))
        }
        guard !entries.isEmpty else { return results }

        entries.sort { ($0.piece, $0.offset) < ($1.piece, $1.offset) }
        let storage = self.storage
        let layout = self.layout
        let hashes = checkedOut.mapValues(\.hash)
        let work = entries
        let outcome: BlockBatchWriter.Outcome
        do {
            outcome = try await pool.run {
                BlockBatchWriter.run(work, hashes: hashes, storage: storage, layout: layout)
            }
        } catch {
            let failure = Self.storageError(error, .write)
            outcome = BlockBatchWriter.Outcome(
                failures: Dictionary(uniqueKeysWithValues: entries.map { ($0.index, failure) }))
        }
        for (piece, out) in checkedOut where partial[piece]?.generation == out.generation {
            partial[piece]?.hashCheckedOut = false
            partial[piece]?.hash = outcome.hashes[piece]
        }
        var completedBy: [Int: Int] = [:]  // piece -> index of the block that completed it
        for entry in entries {
            let block = entry.offset / Self.blockSize
            // Data removed or re-checked meanwhile: the piece's books were reset, this block is not in them.
            guard var current = partial[entry.piece], current.generation == entry.generation else {
                if let error = outcome.failures[entry.index] { results[entry.index] = .failure(error) }
                continue
            }
            current.inFlight.remove(block)
            if let error = outcome.failures[entry.index] {
                current.hash = nil  // a hole in the running hash: the piece is read back when complete
                partial[entry.piece] = current
                results[entry.index] = .failure(error)
                continue
            }
            current.written[block] = true
            if current.written.isAllSet && current.inFlight.isEmpty && !current.hashing {
                current.hashing = true
                completedBy[entry.piece] = entry.index
            }
            partial[entry.piece] = current
        }
        for (piece, index) in completedBy.sorted(by: { $0.key < $1.key }) {
            if let digest = partial[piece]?.hash?.digest {
                let good = verifier.matchesV1(piece: piece, digest: digest)
                // A failed piece's evidence: each block's hash as written, before its blocks are fetched again.
                let blockHashes = good ? nil : try? await blockHashes(ofPiece: piece)
                results[index] = .success(finishPiece(piece, good: good, blockHashes: blockHashes))
                continue
            }
            do {
                results[index] = .success(try await hashCompletedPiece(piece))
            } catch {
                results[index] = .failure(Self.storageError(error, .read))
            }
        }
        return results
    }

    /// The books of a piece that has no written block yet; v1 pieces start a running hash.
    private func newPartialPiece(_ piece: Int) -> PartialPiece {
        nextGeneration += 1
        return PartialPiece(
            written: Bitfield(count: blockCount(ofPiece: piece)), generation: nextGeneration,
            hash: verifier.isV1Only ? IncrementalPieceHash() : nil)
    }

    /// `error` as a ``StorageError`` (storage backends throw only those; anything else is an I/O error).
    package static func storageError(_ error: any Error, _ operation: StorageError.Operation) -> StorageError {
        error as? StorageError ?? StorageError(.ioError, operation, path: nil, reason: "\(error)")
    }

    private func hashCompletedPiece(_ piece: Int) async throws -> BlockWriteResult {
        let storage = self.storage
        let verifier = self.verifier
        let size = layout.size(ofPiece: piece)
        // A running hash that stalled (a block came out of order) already covers the piece's leading
        // bytes as they were written: only the rest is read back.
        let running = partial[piece]?.hash
        let outcome: (good: Bool, blockHashes: [UInt8]?)
        do {
            outcome = try await pool.run { () throws -> (good: Bool, blockHashes: [UInt8]?) in
                if var running {
                    var buffer = [UInt8](repeating: 0, count: size - running.next)
                    return try buffer.withUnsafeMutableBytes { raw in
                        guard try storage.readPiece(piece, offset: running.next, into: raw) else { return (false, nil) }
                        running.feed(offset: running.next, [UnsafeRawBufferPointer(raw)], pieceSize: size)
                        return (running.digest.map { verifier.matchesV1(piece: piece, digest: $0) } ?? false, nil)
                    }
                }
                var buffer = [UInt8](repeating: 0, count: size)
                return try buffer.withUnsafeMutableBytes { raw in
                    guard try storage.readPiece(piece, into: raw) else { return (false, nil) }
                    let data = UnsafeRawBufferPointer(raw)
                    if verifier.verify(piece: piece, data: data) { return (true, nil) }
                    // A piece that failed: its blocks' hashes, to find the bad ones (a v2 piece's from the block
                    // layer, BEP 52; a v1 piece's from the same blocks once the piece verifies).
                    return (false, MerkleTree.blockHashes(data))
                }
            }
        } catch {
            partial[piece] = nil  // its blocks will be fetched again
            throw error
        }
        // A failed piece hashed from a running hash read back only its tail: its evidence reads it whole.
        var evidence = outcome.blockHashes
        if !outcome.good && evidence == nil { evidence = try? await blockHashes(ofPiece: piece) }
        return finishPiece(piece, good: outcome.good, blockHashes: evidence)
    }

    /// The SHA-256 of each 16 KiB block of piece `piece` as it is on disk, 32 bytes each, flat, in block order
    /// (BEP 52's leaf hashes; a short last block hashed as it is). Compared with a failed attempt's
    /// (``FailedPieceBlocks``) once the piece verifies, they name the senders of that attempt's bad blocks.
    /// - Throws: ``StorageError`` when the piece cannot be read whole.
    public func blockHashes(ofPiece piece: Int) async throws -> [UInt8] {
        let storage = self.storage
        let size = layout.size(ofPiece: piece)
        do {
            return try await pool.run {
                var buffer = [UInt8](repeating: 0, count: size)
                let complete = try buffer.withUnsafeMutableBytes { try storage.readPiece(piece, into: $0) }
                guard complete else {
                    throw StorageError(.ioError, .read, path: nil, reason: "piece \(piece) is not whole on disk")
                }
                return buffer.withUnsafeBytes { MerkleTree.blockHashes($0) }
            }
        } catch {
            throw Self.storageError(error, .read)
        }
    }

    /// Records the hash result of a completed piece and names its contributors.
    private func finishPiece(_ piece: Int, good: Bool, blockHashes: [UInt8]? = nil) -> BlockWriteResult {
        let senders = partial[piece]?.senders ?? [:]
        let peers = Set(senders.values)
        partial[piece] = nil
        if good {
            verifiedPieces[piece] = true
            events?(.pieceHashPass(index: piece))
            if verifiedPieces.isAllSet { storage.closeFiles() }  // seeding: reopen read-only
            return .pieceVerified(piece: piece, peers: peers)
        }
        events?(.pieceHashFail(index: piece, peers: peers))
        var blocks: FailedPieceBlocks? = nil
        if let blockHashes, blockHashes.count == blockCount(ofPiece: piece) * 32 {
            let tags = (0..<blockCount(ofPiece: piece)).map { senders[$0] ?? .local }
            blocks = FailedPieceBlocks(senders: tags, blockHashes: blockHashes)
        }
        return .pieceFailed(piece: piece, peers: peers, blocks: blocks)
    }

    /// Reads `length` bytes at `offset` of a verified piece (to upload it). A piece whose data has vanished
    /// or shrunk stops being verified and the error says the file changed.
    public func readBlock(piece: Int, offset: Int, length: Int) async throws -> [UInt8] {
        try await readBlocks([BlockRequest(piece: piece, offset: offset, length: length)])[0].get()
    }

    /// Reads several ranges of verified pieces in one trip to the worker pool (a peer's pipelined requests:
    /// one thread hop for the lot instead of one per block); one result per range, in order, each failing on
    /// its own like ``readBlock(piece:offset:length:)``.
    public func readBlocks(_ blocks: [BlockRequest]) async -> [Result<[UInt8], StorageError>] {
        await read(blocks) { storage, block in
            var buffer = [UInt8](repeating: 0, count: block.length)
            let complete = try buffer.withUnsafeMutableBytes {
                try storage.readPiece(block.piece, offset: block.offset, into: $0)
            }
            return complete ? buffer : nil
        }
    }

    /// ``readBlocks(_:)`` into buffers from `allocator`: each block is read (`pread`) straight into the
    /// writable bytes of a buffer of its own, which is what goes to the socket; no array, no second copy.
    public func readBlocks(
        _ blocks: [BlockRequest], allocator: ByteBufferAllocator
    ) async -> [Result<ByteBuffer, StorageError>] {
        await read(blocks) { storage, block in
            var buffer = allocator.buffer(capacity: block.length)
            var complete = false
            try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: block.length) { raw in
                complete = try storage.readPiece(
                    block.piece, offset: block.offset,
                    into: UnsafeMutableRawBufferPointer(rebasing: raw[..<block.length]))
                return block.length
            }
            return complete ? buffer : nil
        }
    }

    /// The body of both `readBlocks`: checks each range, then reads the valid ones in one trip to the pool
    /// with `readOne`, which answers nil when a byte of a real file is missing.
    private func read<Bytes: Sendable>(
        _ blocks: [BlockRequest], _ readOne: @escaping @Sendable (any Storage, BlockRequest) throws -> Bytes?
    ) async -> [Result<Bytes, StorageError>] {
        var results = [Result<Bytes, StorageError>?](repeating: nil, count: blocks.count)
        var valid: [(index: Int, block: BlockRequest)] = []
        valid.reserveCapacity(blocks.count)
        for (index, block) in blocks.enumerated() {
            let (piece, offset, length) = (block.piece, block.offset, block.length)
            if !(piece >= 0 && piece < layout.pieceCount && offset >= 0 && length > 0
                && offset + length <= layout.size(ofPiece: piece))
            {
                results[index] = .failure(
                    StorageError(
                        .invalidRequest, .read, path: nil, reason: "piece \(piece) range \(offset)+\(length) is invalid"
                    ))
            } else if !verifiedPieces[piece] {
                results[index] = .failure(
                    StorageError(.invalidRequest, .read, path: nil, reason: "piece \(piece) is not verified"))
            } else {
                valid.append((index, block))
            }
        }
        guard !valid.isEmpty else { return results.map { $0! } }
        let storage = self.storage
        let work = valid
        let reads: [Result<Bytes?, StorageError>]
        do {
            reads = try await pool.run {
                work.map { _, block in
                    Result { () throws(StorageError) -> Bytes? in
                        do {
                            return try readOne(storage, block)
                        } catch {
                            throw Self.storageError(error, .read)
                        }
                    }
                }
            }
        } catch {
            let failure = Self.storageError(error, .read)
            for (index, _) in valid { results[index] = .failure(failure) }
            return results.map { $0! }
        }
        for ((index, block), read) in zip(valid, reads) {
            switch read {
            case .success(let bytes?):
                results[index] = .success(bytes)
            case .success(nil):
                results[index] = .failure(dataVanished(block))
            case .failure(let error):
                results[index] = .failure(error)
            }
        }
        return results.map { $0! }
    }

    /// A verified piece's data turned out missing or short: it stops being verified, `file_error` is
    /// reported, and the error says the file changed.
    private func dataVanished(_ block: BlockRequest) -> StorageError {
        verifiedPieces[block.piece] = false
        let file = layout.slices(piece: block.piece, offset: block.offset, length: block.length).first?.fileIndex
        let path = file.map { storage.path(ofFile: $0).joined(separator: "/") }
        let error = StorageError(
            .fileChanged, .read, path: path, reason: "verified data of piece \(block.piece) is missing")
        events?(
            .fileError(
                file: file.map { StorageFileRef(index: $0, path: storage.path(ofFile: $0)) },
                message: error.description, error: error))
        return error
    }

    /// Creates the zero-length files that are not skipped (they have no pieces, so no write creates them).
    public func createEmptyFiles() async throws {
        createdEmptyFiles = true
        let empty = layout.files.indices.filter {
            layout.files[$0].length == 0 && !layout.files[$0].isPadFile && priorities[$0] != .skip
        }
        guard !empty.isEmpty else { return }
        let storage = self.storage
        try await pool.run { for index in empty { try storage.createFile(index) } }
    }

    // MARK: Checking

    /// How hash checks of existing data read a ``FileStorage`` when not told otherwise: every check this store
    /// makes (``checkExistingData(mode:progress:)``, ``start(resumeDataAt:progress:)``,
    /// ``restore(from:progress:)``, and so an engine's recheck of this store). ``HashCheckMode/read`` unless
    /// changed with ``setCheckMode(_:)``.
    public private(set) var checkMode: HashCheckMode = .read

    /// Sets ``checkMode`` for the checks started from now on.
    public func setCheckMode(_ mode: HashCheckMode) {
        checkMode = mode
    }

    /// Hash-checks every piece against the data in storage (missing or short files give missing pieces),
    /// replacing what was known, reading as `mode` says (nil: ``checkMode``). Cancellable; `progress` is
    /// called from worker threads. Throws `MetainfoError` (`missingPieceLayers`) for a v2-only torrent whose
    /// piece layers are missing.
    @discardableResult
    public func checkExistingData(
        mode: HashCheckMode? = nil, progress: (@Sendable (CheckProgress) -> Void)? = nil
    ) async throws -> Bitfield {
        try torrent.requireAllPieceHashes()
        return try await recheck(pieces: Array(0..<layout.pieceCount), mode: mode, progress: progress)
    }

    private func recheck(
        pieces: [Int], mode: HashCheckMode? = nil, progress: (@Sendable (CheckProgress) -> Void)?
    ) async throws -> Bitfield {
        for piece in pieces { partial[piece] = nil }
        let events = self.events
        let check = HashCheck(storage: storage, verifier: verifier, pool: pool, mode: mode ?? checkMode)
        let passed = try await check.run(
            pieces: pieces, progress: progress,
            onPiece: { piece, good in if good { events?(.pieceHashPass(index: piece)) } })
        for piece in pieces { verifiedPieces[piece] = passed[piece] }
        return verifiedPieces
    }

    // MARK: Resume data

    /// A snapshot of the resume data that claims nothing it cannot stand behind.
    ///
    /// The books are read first and the files flushed (`fsync`) after, so everything the snapshot calls
    /// verified or written was on stable storage when it was taken (handles closed earlier were flushed as
    /// they closed). A piece with bytes in a file that is now missing, or shorter than the piece's bytes in
    /// it (deleted or truncated while the torrent ran), is not claimed: neither verified nor partly written.
    public func resumeData() async throws -> ResumeData {
        var verified = verifiedPieces
        var blocks = partial.compactMapValues { $0.written.isNoneSet ? nil : $0.written }
        let storage = self.storage
        let files = layout.files
        let statuses: [FileStatus?] = try await pool.run {
            try storage.synchronize()
            return try files.indices.map { files[$0].isPadFile ? nil : try storage.status(ofFile: $0) }
        }
        for piece in claimsNotOnDisk(statuses, verified: verified, written: blocks) {
            verified[piece] = false
            blocks[piece] = nil
        }
        return ResumeData(
            infoHash: torrent.infoHashes.wire, verified: verified, files: statuses, partialPieces: blocks,
            priorities: priorities, renamedFiles: renamed, folder: (storage as? FileStorage)?.folder)
    }

    /// The claimed pieces (verified, or with `written` blocks) some of whose claimed bytes lie past the
    /// current end of their file (a missing file ends at 0): their data is not all on disk, whatever the books
    /// say.
    private func claimsNotOnDisk(_ statuses: [FileStatus?], verified: Bitfield, written: [Int: Bitfield]) -> Set<Int> {
        var short: [Int: Int64] = [:]
        for (index, file) in layout.files.enumerated() where !file.isPadFile && file.length > 0 {
            let size = statuses[index]?.size ?? 0
            if size < file.length { short[index] = size }
        }
        guard !short.isEmpty else { return [] }
        func beyondDisk(_ slices: [PieceLayout.FileSlice]) -> Bool {
            slices.contains { slice in
                short[slice.fileIndex].map { slice.offsetInFile + Int64(slice.length) > $0 } ?? false
            }
        }
        var missing = Set<Int>()
        for index in short.keys {
            for piece in layout.pieces(ofFile: index) where !missing.contains(piece) {
                if verified[piece] {
                    if beyondDisk(layout.slices(piece: piece)) { missing.insert(piece) }
                } else if let blocks = written[piece] {
                    let claimed = (0..<blocks.count).filter { blocks[$0] }.flatMap { block in
                        layout.slices(
                            piece: piece, offset: block * Self.blockSize,
                            length: blockLength(piece: piece, block: block))
                    }
                    if beyondDisk(claimed) { missing.insert(piece) }
                }
            }
        }
        return missing
    }

    /// Writes the resume data to `path` atomically (a temporary file of its own beside it, fsync, rename,
    /// fsync of the folder). Saves run one at a time: a save started while another runs waits for it, then
    /// takes its own (newer) snapshot.
    public func saveResumeData(to path: String) async throws {
        _ = try await save(to: path, onlyIfChanged: false)
    }

    /// For periodic saves (every few minutes of activity, at each finished file): saves the resume data to
    /// `path` as ``saveResumeData(to:)`` does, unless it equals what the last save to `path` wrote (files
    /// flushed and checked all the same). Returns whether it wrote.
    @discardableResult
    public func saveResumeDataIfChanged(to path: String) async throws -> Bool {
        try await save(to: path, onlyIfChanged: true)
    }

    private func save(to path: String, onlyIfChanged: Bool) async throws -> Bool {
        let previous = lastSave
        let task = Task<Bool, any Error> {
            _ = await previous?.result
            let snapshot = try await self.resumeData()
            if onlyIfChanged, await self.lastSaved.map({ $0.path == path && $0.data == snapshot }) == true {
                return false
            }
            let bytes = snapshot.encoded()
            try await self.pool.run { try AtomicFile.write(bytes, to: path) }
            await self.recordSaved(path: path, data: snapshot)
            return true
        }
        lastSave = Task { _ = try await task.value }
        return try await task.value
    }

    private func recordSaved(path: String, data: ResumeData) { lastSaved = (path, data) }

    /// Starts from the resume data at `path`: when it is absent or unusable every piece is checked,
    /// otherwise only the pieces of files whose size or modification time changed. Throws
    /// `BTMetainfo/MetainfoError` (`missingPieceLayers`) for a v2-only torrent whose piece layers are missing.
    @discardableResult
    public func start(
        resumeDataAt path: String?, progress: (@Sendable (CheckProgress) -> Void)? = nil
    ) async throws -> StartOutcome {
        // A v2-only torrent without its piece layers has nothing to check pieces against: refuse it here
        // (MetainfoError.missingPieceLayers) rather than fail every piece and blame the peers that sent them.
        try torrent.requireAllPieceHashes()
        guard let path, let bytes = try await pool.run({ try AtomicFile.read(path) }) else {
            try await checkExistingData(progress: progress)
            return .fullCheck
        }
        do {
            return try await restore(from: ResumeData(bytes: bytes), progress: progress)
        } catch let error as StorageError where error.code == .invalidResumeData {
            try await checkExistingData(progress: progress)
            return .fullCheckAfterInvalidResumeData(reason: error.reason)
        }
    }

    /// Restores state from parsed resume data: trusts the pieces of files whose size and modification time
    /// are as recorded and re-checks the others. Throws ``StorageError/Code/invalidResumeData`` when the
    /// data belongs to another torrent or does not fit this one.
    public func restore(
        from resume: ResumeData, progress: (@Sendable (CheckProgress) -> Void)? = nil
    ) async throws -> StartOutcome {
        func invalid(_ reason: String) -> StorageError {
            StorageError(.invalidResumeData, .resume, path: nil, reason: reason)
        }
        guard resume.infoHash == torrent.infoHashes.wire else { throw invalid("resume data of another torrent") }
        guard resume.verified.count == layout.pieceCount else { throw invalid("piece count differs") }
        guard resume.files.count == layout.files.count else { throw invalid("file count differs") }
        guard resume.priorities.isEmpty || resume.priorities.count == layout.files.count else {
            throw invalid("priority count differs")
        }
        for (piece, map) in resume.partialPieces
        where piece < 0 || piece >= layout.pieceCount || map.count != blockCount(ofPiece: piece) {
            throw invalid("block map of piece \(piece) has the wrong size")
        }
        for (index, path) in resume.renamedFiles {
            guard index < layout.files.count else { throw invalid("renamed file index out of range") }
            let storage = self.storage
            try await pool.run { try storage.renameFile(index, to: path) }
            renamed[index] = path
        }
        if !resume.priorities.isEmpty { priorities = resume.priorities }

        let storage = self.storage
        let files = layout.files
        let current: [FileStatus?] = try await pool.run {
            try files.indices.map { files[$0].isPadFile ? nil : try storage.status(ofFile: $0) }
        }
        var changedFiles: [Int] = []
        var suspect = Set<Int>()
        for index in files.indices where !files[index].isPadFile && current[index] != resume.files[index] {
            changedFiles.append(index)
            suspect.formUnion(layout.pieces(ofFile: index))
        }
        // Resume data written before the files were checked at save time may claim pieces of a file that is
        // missing or short and "unchanged": those claims are checked, not trusted.
        suspect.formUnion(claimsNotOnDisk(current, verified: resume.verified, written: resume.partialPieces))
        verifiedPieces = resume.verified
        partial = [:]
        for (piece, map) in resume.partialPieces where !suspect.contains(piece) && !resume.verified[piece] {
            nextGeneration += 1
            partial[piece] = PartialPiece(written: map, generation: nextGeneration)
        }
        // Pieces whose blocks were all written before the snapshot but not yet hashed are checked too.
        let completeButUnhashed = partial.filter { $0.value.written.isAllSet }.map(\.key)
        let toCheck = suspect.union(completeButUnhashed).sorted()
        if !toCheck.isEmpty { _ = try await recheck(pieces: toCheck, progress: progress) }
        return .resumed(changedFiles: changedFiles, recheckedPieces: toCheck.count)
    }

    // MARK: Files

    /// Sets the priority of file `index`. Skipping a file makes its pieces unwanted (see ``wantedPieces``);
    /// data already there is kept.
    public func setPriority(_ priority: FilePriority, ofFile index: Int) {
        precondition(index >= 0 && index < priorities.count, "file index out of range")
        priorities[index] = priority
    }

    /// Renames file `index` to `path` below the download folder (moving existing data).
    public func renameFile(_ index: Int, to path: [String]) async throws {
        let storage = self.storage
        try await pool.run { try storage.renameFile(index, to: path) }
        renamed[index] = path
    }

    /// Moves all data to `folder`, which becomes the download folder. Blocks written while the move runs
    /// are safe when the move is a rename on one file system; across file systems, pause the torrent first.
    public func moveStorage(to folder: String) async throws {
        let storage = self.storage
        try await pool.run { try storage.move(to: folder) }
    }

    /// Deletes the torrent's files; nothing is verified afterwards.
    public func removeData() async throws {
        let storage = self.storage
        verifiedPieces = Bitfield(count: layout.pieceCount)
        partial = [:]
        createdEmptyFiles = false
        try await pool.run { try storage.removeData() }
    }
}
