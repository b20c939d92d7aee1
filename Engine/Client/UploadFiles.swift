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
    /// Open handles and the size each file had when opened.
    private var handles: [Int: (handle: NIOFileHandle, size: Int)] = [:]
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
    ///
    /// A block past the end of the file as last measured (when opened, and again when a block lies past
    /// it: a torrent still downloading grows its files) is read instead: `sendfile` past the end of a file
    /// sends nothing and the channel would try again and again. A file shortened by someone else after it
    /// was measured is the one case left to the peer's request timeout.
    func region(for request: BlockRequest) -> FileRegion? {
        guard let location = store.fileLocation(of: request), let (handle, size) = open(location.file) else {
            return nil
        }
        let start = Int(location.offset)
        if start + request.length > size {
            // A file of a torrent still downloading grows: measure it again before giving up.
            let now = (try? FileRegion(fileHandle: handle).endIndex) ?? 0
            handles[location.file] = (handle, now)
            guard start + request.length <= now else { return nil }
        }
        return FileRegion(fileHandle: handle, readerIndex: start, endIndex: start + request.length)
    }

    private func open(_ file: Int) -> (handle: NIOFileHandle, size: Int)? {
        if let open = handles[file] { return open }
        guard !unavailable.contains(file), let files = store.storage as? FileStorage,
            let path = try? files.absolutePath(ofFile: file),
            let handle = try? NIOFileHandle(_deprecatedPath: path, mode: .read, flags: .default)
        else {
            unavailable.insert(file)
            return nil
        }
        let size = (try? FileRegion(fileHandle: handle).endIndex) ?? 0
        handles[file] = (handle, size)
        return (handle, size)
    }

    /// Closes every handle (the torrent is removed); a region still queued on a channel then fails its write.
    func closeAll() {
        for open in handles.values { try? open.handle.close() }
        handles.removeAll()
    }

    deinit { closeAll() }
}
