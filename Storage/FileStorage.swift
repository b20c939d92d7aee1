import BTMetainfo
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stores a torrent as ordinary files under a download folder.
///
/// Positioned I/O (`pread`/`pwrite` through swift-system); only the opt-in mapped hash check
/// (``HashCheckMode/mapped``) maps files, read-only, a run of pieces at a time. Files and their folders are created on
/// first write, sparse. Open handles are kept in a bounded cache (least recently used closed first); reads
/// open files read-only, so a seeding torrent holds no writable handle after ``closeFiles()``. Every path is
/// resolved with `SafePath` so no torrent can reach outside the folder, symbolic links included.
public final class FileStorage: Storage {
    public let layout: PieceLayout
    private let events: StorageEventHandler?
    private let maxOpenFiles: Int
    private let state: Locked<State>

    private struct State {
        var root: String
        var paths: [[String]]
        var handles: [Int: Handle] = [:]
        var useClock: UInt64 = 0
    }

    /// Files whose writable handle could not be flushed when it closed: ``synchronize()`` flushes them again
    /// (and fails until it can), so resume data never claims their pieces unflushed.
    private let unflushed = Locked(Set<Int>())
    /// Writable handles flushed as they closed (evicted, or closed with the others): for tests.
    private let flushedOnClose = Locked(0)
    /// Number of writable handles flushed as they closed.
    package var filesFlushedOnClose: Int { flushedOnClose.withLock { $0 } }

    /// An open file; closing happens when the last user lets go (so eviction never closes under a reader).
    ///
    /// A writable handle is flushed (`fsync`) before it closes, whether evicted from the cache or closed with
    /// the others at completion: once closed, ``synchronize()`` no longer sees it, and resume data saved
    /// later may claim the pieces written through it.
    private final class Handle: Sendable {
        let descriptor: FileDescriptor
        let writable: Bool
        let ref: StorageFileRef
        let events: StorageEventHandler?
        let unflushed: Locked<Set<Int>>
        let flushed: Locked<Int>
        nonisolated(unsafe) var lastUse: UInt64 = 0

        init(
            descriptor: FileDescriptor, writable: Bool, ref: StorageFileRef, events: StorageEventHandler?,
            unflushed: Locked<Set<Int>>, flushed: Locked<Int>
        ) {
            self.flushed = flushed
            self.descriptor = descriptor
            self.writable = writable
            self.ref = ref
            self.events = events
            self.unflushed = unflushed
        }

        deinit {
            if writable {
                if fsync(descriptor.rawValue) == 0 {
                    flushed.withLock { $0 += 1 }
                } else {
                    let index = ref.index
                    unflushed.withLock { _ = $0.insert(index) }
                }
            }
            try? descriptor.close()
            events?(.fileClose(file: ref))
        }
    }

    /// Storage for `files` (the torrent's layout, pad files included) under `folder`, each file at
    /// `paths[i]` below it. At most `maxOpenFiles` handles stay open.
    public init(
        layout: PieceLayout, paths: [[String]], folder: String, maxOpenFiles: Int = 64,
        events: StorageEventHandler? = nil
    ) {
        precondition(paths.count == layout.files.count, "one path per file")
        self.layout = layout
        self.events = events
        self.maxOpenFiles = max(1, maxOpenFiles)
        self.state = Locked(State(root: folder, paths: paths))
    }

    /// Storage for `torrent` under `folder`: a single-file torrent is `folder/name`, a multi-file one
    /// `folder/name/path...`.
    public convenience init(
        torrent: Torrent, folder: String, maxOpenFiles: Int = 64, events: StorageEventHandler? = nil
    ) {
        self.init(
            layout: torrent.layout, paths: FileStorage.paths(of: torrent), folder: folder, maxOpenFiles: maxOpenFiles,
            events: events)
    }

    /// Paths below the download folder of each file of `torrent`, in layout order.
    public static func paths(of torrent: Torrent) -> [[String]] {
        torrent.files.map { torrent.isSingleFile ? $0.path : [torrent.name] + $0.path }
    }

    /// The current download folder.
    public var folder: String { state.withLock { $0.root } }

    public func path(ofFile index: Int) -> [String] { state.withLock { $0.paths[index] } }

    /// Absolute path of file `index` (checked against the folder).
    public func absolutePath(ofFile index: Int) throws -> String {
        let (root, path) = state.withLock { ($0.root, $0.paths[index]) }
        return try SafePath.resolve(root: root, path)
    }

    private func ref(_ index: Int) -> StorageFileRef { StorageFileRef(index: index, path: path(ofFile: index)) }

    /// A handle for `index`: cached, or opened now. nil when reading a file that does not exist.
    private func handle(_ index: Int, writable: Bool) throws -> Handle? {
        let cached: Handle? = state.withLock { state in
            guard let handle = state.handles[index], handle.writable || !writable else { return nil }
            state.useClock += 1
            handle.lastUse = state.useClock
            return handle
        }
        if let cached { return cached }
        let (root, components) = state.withLock { ($0.root, $0.paths[index]) }
        let fullPath = try SafePath.resolve(root: root, components)
        let descriptor: FileDescriptor
        do {
            if writable {
                try makeParentFolders(of: fullPath, root: root)
                descriptor = try FileDescriptor.open(
                    FilePath(fullPath), .readWrite, options: [.create, .closeOnExec],
                    permissions: [.ownerReadWrite, .groupRead, .otherRead])
            } else {
                descriptor = try FileDescriptor.open(FilePath(fullPath), .readOnly, options: [.closeOnExec])
            }
        } catch let error as Errno {
            if !writable && error == .noSuchFileOrDirectory { return nil }
            throw fail(StorageError(errno: error.rawValue, .open, path: fullPath), index)
        }
        let handle = Handle(
            descriptor: descriptor, writable: writable, ref: StorageFileRef(index: index, path: components),
            events: events, unflushed: unflushed, flushed: flushedOnClose)
        events?(.fileOpen(file: handle.ref, mode: writable ? .write : .read))
        var evicted: [Handle] = []
        state.withLock { state in
            state.useClock += 1
            handle.lastUse = state.useClock
            if let old = state.handles.updateValue(handle, forKey: index) { evicted.append(old) }
            while state.handles.count > maxOpenFiles {
                guard let oldest = state.handles.min(by: { $0.value.lastUse < $1.value.lastUse }) else { break }
                evicted.append(oldest.value)
                state.handles.removeValue(forKey: oldest.key)
            }
        }
        evicted.removeAll()  // closes outside the lock
        return handle
    }

    private func makeParentFolders(of path: String, root: String) throws {
        let parts = path.split(separator: "/").dropLast()
        var current = path.hasPrefix("/") ? "" : "."
        for part in parts {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw StorageError(errno: errno, .open, path: current)
            }
        }
    }

    @discardableResult
    private func fail(_ error: StorageError, _ index: Int?) -> StorageError {
        events?(.fileError(file: index.map(ref), message: error.description, error: error))
        return error
    }

    public func read(file: Int, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0, let handle = try handle(file, writable: false) else { return 0 }
        var done = 0
        do {
            while done < buffer.count {
                let count = try handle.descriptor.read(
                    fromAbsoluteOffset: offset + Int64(done),
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
                if count == 0 { break }
                done += count
            }
        } catch let error as Errno {
            throw fail(StorageError(errno: error.rawValue, .read, path: description(of: file)), file)
        }
        events?(.fileRead(file: handle.ref, length: done))
        return done
    }

    public func write(file: Int, offset: Int64, from buffer: UnsafeRawBufferPointer) throws {
        guard buffer.count > 0, let handle = try handle(file, writable: true) else { return }
        do {
            var done = 0
            while done < buffer.count {
                done += try handle.descriptor.write(
                    toAbsoluteOffset: offset + Int64(done), UnsafeRawBufferPointer(rebasing: buffer[done...]))
            }
        } catch let error as Errno {
            throw fail(StorageError(errno: error.rawValue, .write, path: description(of: file)), file)
        }
        events?(.fileWrite(file: handle.ref, length: buffer.count))
    }

    /// Buffers per `pwritev` at most (`IOV_MAX` on Linux and the BSDs; not imported as a Swift constant).
    private static let maximumVectors = 1024

    /// One `pwritev` for the whole run of buffers instead of one `pwrite` each: the download path writes
    /// adjacent 16 KiB blocks of a piece together, and the syscall per block was a sixth of its CPU time.
    /// A short write finishes the rest buffer by buffer.
    public func write(file: Int, offset: Int64, from buffers: [UnsafeRawBufferPointer]) throws {
        let total = buffers.reduce(0) { $0 + $1.count }
        guard total > 0 else { return }
        if buffers.count == 1 { return try write(file: file, offset: offset, from: buffers[0]) }
        guard let handle = try handle(file, writable: true) else { return }
        let vectors = buffers.prefix(Self.maximumVectors).map {
            iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
        }
        var written = 0
        repeat {
            written = vectors.withUnsafeBufferPointer {
                pwritev(handle.descriptor.rawValue, $0.baseAddress, Int32($0.count), off_t(offset))
            }
        } while written < 0 && errno == EINTR
        if written < 0 {
            throw fail(StorageError(errno: errno, .write, path: description(of: file)), file)
        }
        events?(.fileWrite(file: handle.ref, length: written))
        guard written < total else { return }
        // Short write: finish what is left one buffer at a time (each loops until done).
        var start = 0
        for buffer in buffers {
            let end = start + buffer.count
            if end > written {
                let skip = max(0, written - start)
                try write(
                    file: file, offset: offset + Int64(start + skip),
                    from: UnsafeRawBufferPointer(rebasing: buffer[skip...]))
            }
            start = end
        }
    }

    private func description(of file: Int) -> String {
        let (root, path) = state.withLock { ($0.root, $0.paths[file]) }
        return ([root] + path).joined(separator: "/")
    }

    public func status(ofFile file: Int) throws -> FileStatus? {
        let fullPath = try absolutePath(ofFile: file)
        var info = stat()
        if stat(fullPath, &info) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw fail(StorageError(errno: errno, .stat, path: fullPath), file)
        }
        return FileStatus(
            size: Int64(info.st_size),
            modificationTime: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }

    public func createFile(_ file: Int) throws {
        _ = try handle(file, writable: true)
    }

    public func synchronize() throws {
        let writable = state.withLock { $0.handles.filter { $0.value.writable } }
        for (index, handle) in writable {
            if fsync(handle.descriptor.rawValue) != 0 {
                throw fail(StorageError(errno: errno, .sync, path: description(of: index)), index)
            }
        }
        // Files whose handle failed to flush as it closed: flush them through a new descriptor (fsync flushes
        // the file, not the descriptor) or fail, never report them flushed.
        for index in unflushed.withLock({ $0 }).sorted() {
            let fullPath = try absolutePath(ofFile: index)
            let descriptor: FileDescriptor
            do {
                descriptor = try FileDescriptor.open(FilePath(fullPath), .readOnly, options: [.closeOnExec])
            } catch let error as Errno {
                // A file deleted since is "missing": its pieces are not claimed (see PieceStore.resumeData).
                if error == .noSuchFileOrDirectory {
                    unflushed.withLock { _ = $0.remove(index) }
                    continue
                }
                throw fail(StorageError(errno: error.rawValue, .sync, path: fullPath), index)
            }
            defer { try? descriptor.close() }
            if fsync(descriptor.rawValue) != 0 {
                throw fail(StorageError(errno: errno, .sync, path: fullPath), index)
            }
            unflushed.withLock { _ = $0.remove(index) }
        }
    }

    public func closeFiles() {
        var dropped = state.withLock { state -> [Handle] in
            defer { state.handles.removeAll() }
            return Array(state.handles.values)
        }
        dropped.removeAll()
    }

    /// Moves the file at `from` to `to` (both absolute), across file systems by copying when needed.
    private func moveFile(from: String, to: String, root: String, index: Int) throws {
        try makeParentFolders(of: to, root: root)
        if rename(from, to) == 0 { return }
        guard errno == EXDEV else { throw fail(StorageError(errno: errno, .move, path: from), index) }
        try copyFile(from: from, to: to, index: index)
        if unlink(from) != 0 { throw fail(StorageError(errno: errno, .remove, path: from), index) }
    }

    private func copyFile(from: String, to: String, index: Int) throws {
        do {
            let source = try FileDescriptor.open(FilePath(from), .readOnly)
            defer { try? source.close() }
            let target = try FileDescriptor.open(
                FilePath(to), .writeOnly, options: [.create, .truncate],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
            defer { try? target.close() }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var offset: Int64 = 0
            while true {
                let count = try buffer.withUnsafeMutableBytes { try source.read(fromAbsoluteOffset: offset, into: $0) }
                if count == 0 { break }
                _ = try buffer.withUnsafeBytes { try target.writeAll(toAbsoluteOffset: offset, $0[..<count]) }
                offset += Int64(count)
            }
            if fsync(target.rawValue) != 0 { throw Errno(rawValue: errno) }
        } catch let error as Errno {
            throw fail(StorageError(errno: error.rawValue, .move, path: to), index)
        }
    }

    /// Removes the folders of `path` that are empty, up to (not including) `root`.
    private func removeEmptyParents(of path: String, root: String) {
        var parts = path.split(separator: "/").map(String.init)
        let rootDepth = root.split(separator: "/").count
        parts.removeLast()
        while parts.count > rootDepth {
            if rmdir("/" + parts.joined(separator: "/")) != 0 { break }
            parts.removeLast()
        }
    }

    public func renameFile(_ file: Int, to path: [String]) throws {
        let (root, oldComponents) = state.withLock { ($0.root, $0.paths[file]) }
        let newPath = try SafePath.resolve(root: root, path)
        let oldPath = try SafePath.resolve(root: root, oldComponents)
        closeFiles()
        var info = stat()
        if lstat(oldPath, &info) == 0 {
            try moveFile(from: oldPath, to: newPath, root: root, index: file)
            removeEmptyParents(of: oldPath, root: SafePath.realPath(root) ?? root)
        }
        state.withLock { $0.paths[file] = path }
    }

    public func move(to folder: String) throws {
        closeFiles()
        let (root, paths) = state.withLock { ($0.root, $0.paths) }
        if mkdir(folder, 0o755) != 0 && errno != EEXIST {
            throw fail(StorageError(errno: errno, .move, path: folder), nil)
        }
        let canonicalOld = SafePath.realPath(root) ?? root
        for (index, components) in paths.enumerated() where !layout.files[index].isPadFile {
            let oldPath = try SafePath.resolve(root: root, components)
            var info = stat()
            guard lstat(oldPath, &info) == 0 else { continue }
            let newPath = try SafePath.resolve(root: folder, components)
            try moveFile(from: oldPath, to: newPath, root: folder, index: index)
            removeEmptyParents(of: oldPath, root: canonicalOld)
        }
        state.withLock { $0.root = folder }
    }

    public func removeData() throws {
        closeFiles()
        let (root, paths) = state.withLock { ($0.root, $0.paths) }
        let canonical = SafePath.realPath(root) ?? root
        for (index, components) in paths.enumerated() where !layout.files[index].isPadFile {
            let path = try SafePath.resolve(root: root, components)
            if unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR {
                throw fail(StorageError(errno: errno, .remove, path: path), index)
            }
            removeEmptyParents(of: path, root: canonical)
        }
    }

    /// Hints the kernel to start reading `length` bytes of file `file` at `offset` (read-ahead for
    /// hash checks); a no-op when the file is not open or the hint fails.
    package func prefetch(file: Int, offset: Int64, length: Int) {
        guard let handle = try? handle(file, writable: false) else { return }
        #if os(Linux)
            _ = posix_fadvise(handle.descriptor.rawValue, off_t(offset), off_t(length), POSIX_FADV_WILLNEED)
        #endif
    }

    /// An open read-only descriptor of file `file` for the mapped hash check to `mmap`, with the object that
    /// keeps it open while held (the handle cache may close its own reference meanwhile); nil when the file
    /// does not exist.
    package func descriptorForMapping(file: Int) throws -> (descriptor: Int32, owner: AnyObject)? {
        guard let handle = try handle(file, writable: false) else { return nil }
        return (handle.descriptor.rawValue, handle)
    }

    /// Reads like ``read(file:offset:into:)`` but only what the page cache already holds (Linux `preadv2`
    /// with `RWF_NOWAIT`, still a positioned read): the number of bytes read, which stops early at the end
    /// of the file or at the first byte not cached; nil when not even the first byte is cached or the
    /// platform or file system cannot tell (read it with ``read(file:offset:into:)`` then). A file that
    /// does not exist reads as 0 bytes. Lets the hash check skip read-ahead hints when the data is cached.
    package func readCached(file: Int, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        #if os(Linux)
            guard let preadv2 = Self.preadv2 else { return nil }
            guard buffer.count > 0, let handle = try handle(file, writable: false) else { return 0 }
            var done = 0
            while done < buffer.count {
                var vector = iovec(iov_base: buffer.baseAddress! + done, iov_len: buffer.count - done)
                let count = preadv2(handle.descriptor.rawValue, &vector, 1, off_t(offset + Int64(done)), Self.noWait)
                if count > 0 {
                    done += count
                    continue
                }
                if count == 0 { break }  // end of the file
                let code = errno
                if code == EINTR { continue }
                guard code == EAGAIN || code == EOPNOTSUPP || code == EINVAL || code == ENOSYS else {
                    throw fail(StorageError(errno: code, .read, path: description(of: file)), file)
                }
                if done == 0 { return nil }
                break
            }
            events?(.fileRead(file: handle.ref, length: done))
            return done
        #else
            return nil
        #endif
    }

    #if os(Linux)
        /// `RWF_NOWAIT` from linux/fs.h (a cast macro, so not imported): fail with `EAGAIN` instead of
        /// waiting for the disk.
        private static let noWait: Int32 = 0x0000_0008

        private typealias PositionedVectorRead =
            @convention(c) (
                Int32, UnsafePointer<iovec>?, Int32, off_t, Int32
            ) -> Int

        /// glibc's `preadv2` (2.26+; declared only under `_GNU_SOURCE`, so looked up at run time). nil when
        /// the C library lacks it: then nothing is read from the cache alone.
        private static let preadv2: PositionedVectorRead? = {
            guard let symbol = dlsym(nil, "preadv2") else { return nil }
            return unsafeBitCast(symbol, to: PositionedVectorRead.self)
        }()
    #endif
}
