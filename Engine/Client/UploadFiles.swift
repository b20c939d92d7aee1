import BTMetainfo
import BTStorage
import NIOCore

/// A torrent's files held open read-only for uploads by `sendfile(2)`: a plaintext TCP peer's block goes
/// out as NIO `FileRegion`s over these handles, the bytes never read into the process
/// (`Uploader.read`). One handle per file, opened on the first block served from it and kept until the
/// torrent is removed (``closeAll()``), so no block costs an `open` or a `close`.
///
/// Confined to the client's event loop, like ``Uploader``: a `NIOFileHandle` may be used by one thread at a
/// time, and every channel of the client writes on that loop. A renamed or moved file keeps its open handle
/// (the same inode and bytes); a handle that cannot be opened makes its blocks take the buffered path.
final class UploadFiles {
    private let store: PieceStore
    private var handles: [Int: NIOFileHandle] = [:]
    /// Files that could not be opened: their blocks are read into memory instead.
    private var unavailable: Set<Int> = []

    /// Handles for the files of `store` (only a ``FileStorage`` has any).
    init(store: PieceStore) {
        self.store = store
    }

    /// Number of open handles.
    var openCount: Int { handles.count }

    /// The region of the file holding `request`, or nil when the block cannot be sent from one file: the
    /// store is not on files, the block spans files or pad bytes, or the file cannot be opened.
    func region(for request: BlockRequest) -> FileRegion? {
        guard let location = store.fileLocation(of: request), let handle = handle(location.file) else { return nil }
        let start = Int(location.offset)
        return FileRegion(fileHandle: handle, readerIndex: start, endIndex: start + request.length)
    }

    private func handle(_ file: Int) -> NIOFileHandle? {
        if let handle = handles[file] { return handle }
        guard !unavailable.contains(file), let files = store.storage as? FileStorage,
            let path = try? files.absolutePath(ofFile: file),
            let handle = try? NIOFileHandle(_deprecatedPath: path, mode: .read, flags: .default)
        else {
            unavailable.insert(file)
            return nil
        }
        handles[file] = handle
        return handle
    }

    /// Closes every handle (the torrent is removed); a region still queued on a channel then fails its write.
    func closeAll() {
        for handle in handles.values { try? handle.close() }
        handles.removeAll()
    }

    deinit { closeAll() }
}
