import BTMetainfo

/// Size and modification time of a file on disk, as recorded in resume data.
public struct FileStatus: Hashable, Sendable {
    /// Size in bytes.
    public var size: Int64
    /// Modification time in nanoseconds since 1970.
    public var modificationTime: Int64
    /// Creates a status.
    public init(size: Int64, modificationTime: Int64) {
        self.size = size
        self.modificationTime = modificationTime
    }
}

/// Where a torrent's bytes live. Plug in your own backend by conforming to this protocol; BTStorage ships
/// ``FileStorage`` (files under a download folder) and ``MemoryStorage`` (tests, simulations).
///
/// Backends work in terms of file indexes of ``layout`` and byte offsets inside files; the extension maps
/// pieces and blocks onto them (pieces spanning files, pad files never stored, zero-length files). Calls
/// block the calling thread: ``PieceStore`` makes them on its ``WorkerPool``. Every thrown error is a
/// ``StorageError``.
public protocol Storage: AnyObject, Sendable {
    /// The torrent's piece/file mapping (pad files included).
    var layout: PieceLayout { get }
    /// Path of file `index` below the download folder (as it is now, after renames).
    func path(ofFile index: Int) -> [String]
    /// Reads up to `buffer.count` bytes of file `file` at `offset`; returns how many were read (fewer at the
    /// end of a short file, 0 when the file does not exist).
    func read(file: Int, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Writes all of `buffer` into file `file` at `offset`, creating the file (sparse) when needed.
    func write(file: Int, offset: Int64, from buffer: UnsafeRawBufferPointer) throws
    /// Writes `buffers`, one after another, into file `file` starting at `offset` (a gathered write). The
    /// default writes them one by one with ``write(file:offset:from:)``; ``FileStorage`` makes one `pwritev`.
    func write(file: Int, offset: Int64, from buffers: [UnsafeRawBufferPointer]) throws
    /// Size and modification time of file `file`, or nil when it does not exist.
    func status(ofFile file: Int) throws -> FileStatus?
    /// Creates file `file` if it does not exist yet, empty (used for zero-length files).
    func createFile(_ file: Int) throws
    /// Flushes written data of every open file to stable storage.
    func synchronize() throws
    /// Closes every open handle (the next access reopens, read-only unless it writes).
    func closeFiles()
    /// Renames file `file` to `path` (below the download folder), moving existing data.
    func renameFile(_ file: Int, to path: [String]) throws
    /// Moves every existing file to the same relative place under `folder`, which becomes the download folder.
    func move(to folder: String) throws
    /// Deletes every file of the torrent (and folders left empty).
    func removeData() throws
}

extension Storage {
    /// Writes each buffer with ``write(file:offset:from:)`` (backends without a gathered write).
    public func write(file: Int, offset: Int64, from buffers: [UnsafeRawBufferPointer]) throws {
        var position = offset
        for buffer in buffers {
            try write(file: file, offset: position, from: buffer)
            position += Int64(buffer.count)
        }
    }

    /// Reads `buffer.count` bytes starting `offset` bytes into piece `piece`. Pad-file bytes read as zeros.
    /// Returns false when a byte of a real file is missing (file absent or too short); the rest of the
    /// buffer is then unspecified.
    public func readPiece(_ piece: Int, offset: Int = 0, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool {
        try readPiece(piece, offset: offset, into: buffer) { file, fileOffset, target in
            try read(file: file, offset: fileOffset, into: target)
        }
    }

    /// ``readPiece(_:offset:into:)`` with the per-file read given: `read(file, offset, target)` fills a slice
    /// of a real file and returns how many bytes it read; pad-file slices are zero-filled here.
    package func readPiece(
        _ piece: Int, offset: Int, into buffer: UnsafeMutableRawBufferPointer,
        using read: (_ file: Int, _ offset: Int64, _ target: UnsafeMutableRawBufferPointer) throws -> Int
    ) rethrows -> Bool {
        var complete = true
        for slice in layout.slices(piece: piece, offset: offset, length: buffer.count) {
            let target = UnsafeMutableRawBufferPointer(
                rebasing: buffer[slice.offsetInRange..<(slice.offsetInRange + slice.length)])
            if layout.files[slice.fileIndex].isPadFile {
                target.initializeMemory(as: UInt8.self, repeating: 0)
                continue
            }
            let count = try read(slice.fileIndex, slice.offsetInFile, target)
            if count < slice.length { complete = false }
        }
        return complete
    }

    /// Writes `buffer` at `offset` inside piece `piece`, splitting it over the files it spans. Bytes that
    /// fall on pad files are not written (BEP 47).
    public func writePiece(_ piece: Int, offset: Int, from buffer: UnsafeRawBufferPointer) throws {
        for slice in layout.slices(piece: piece, offset: offset, length: buffer.count)
        where !layout.files[slice.fileIndex].isPadFile {
            let source = UnsafeRawBufferPointer(
                rebasing: buffer[slice.offsetInRange..<(slice.offsetInRange + slice.length)])
            try write(file: slice.fileIndex, offset: slice.offsetInFile, from: source)
        }
    }

    /// Writes `buffers`, which lie back to back from `offset` inside piece `piece`, splitting them over the
    /// files the range spans: one gathered write per file. Bytes that fall on pad files are not written.
    public func writePiece(_ piece: Int, offset: Int, from buffers: [UnsafeRawBufferPointer]) throws {
        let length = buffers.reduce(0) { $0 + $1.count }
        for slice in layout.slices(piece: piece, offset: offset, length: length)
        where !layout.files[slice.fileIndex].isPadFile {
            // The parts of the buffers that cover this slice, in order.
            var parts: [UnsafeRawBufferPointer] = []
            var start = 0
            let sliceEnd = slice.offsetInRange + slice.length
            for buffer in buffers {
                let end = start + buffer.count
                let low = max(start, slice.offsetInRange)
                let high = min(end, sliceEnd)
                if low < high { parts.append(UnsafeRawBufferPointer(rebasing: buffer[(low - start)..<(high - start)])) }
                start = end
                if start >= sliceEnd { break }
            }
            try write(file: slice.fileIndex, offset: slice.offsetInFile, from: parts)
        }
    }
}
