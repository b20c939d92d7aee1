import BTMetainfo

/// Keeps a torrent's files in memory: for tests and the swarm simulator. Behaves like ``FileStorage``
/// (files appear on first write, reads past the end are short, pad files are never stored) without a disk.
public final class MemoryStorage: Storage {
    public let layout: PieceLayout
    private let state: Locked<State>

    private struct State {
        var paths: [[String]]
        var contents: [Int: [UInt8]] = [:]
        var times: [Int: Int64] = [:]
        var clock: Int64 = 1
    }

    /// In-memory storage for `layout`, file `i` named `paths[i]` (default: the layout's own paths).
    public init(layout: PieceLayout, paths: [[String]]? = nil) {
        self.layout = layout
        self.state = Locked(State(paths: paths ?? layout.files.map(\.path)))
    }

    /// The bytes of file `index`, or nil when it was never created.
    public func contents(ofFile index: Int) -> [UInt8]? { state.withLock { $0.contents[index] } }

    /// Replaces the bytes of file `index` (nil deletes it), as if changed behind the torrent's back.
    public func setContents(ofFile index: Int, _ bytes: [UInt8]?) {
        state.withLock { state in
            state.contents[index] = bytes
            state.clock += 1
            state.times[index] = state.clock
        }
    }

    public func path(ofFile index: Int) -> [String] { state.withLock { $0.paths[index] } }

    public func read(file: Int, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        state.withLock { state in
            guard let bytes = state.contents[file], offset < Int64(bytes.count) else { return 0 }
            let count = min(buffer.count, bytes.count - Int(offset))
            bytes.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[Int(offset)..<(Int(offset) + count)]))
            }
            return count
        }
    }

    public func write(file: Int, offset: Int64, from buffer: UnsafeRawBufferPointer) throws {
        guard !layout.files[file].isPadFile else { return }
        state.withLock { state in
            var bytes = state.contents[file] ?? []
            let end = Int(offset) + buffer.count
            if bytes.count < end { bytes.append(contentsOf: repeatElement(0, count: end - bytes.count)) }
            bytes.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[Int(offset)..<end]).copyMemory(from: buffer)
            }
            state.contents[file] = bytes
            state.clock += 1
            state.times[file] = state.clock
        }
    }

    public func status(ofFile file: Int) throws -> FileStatus? {
        state.withLock { state in
            guard let bytes = state.contents[file] else { return nil }
            return FileStatus(size: Int64(bytes.count), modificationTime: state.times[file] ?? 0)
        }
    }

    public func createFile(_ file: Int) throws {
        guard !layout.files[file].isPadFile else { return }
        state.withLock { state in
            if state.contents[file] == nil {
                state.contents[file] = []
                state.clock += 1
                state.times[file] = state.clock
            }
        }
    }

    public func synchronize() throws {}
    public func closeFiles() {}

    public func renameFile(_ file: Int, to path: [String]) throws {
        try SafePath.validate(path, path: path.joined(separator: "/"))
        state.withLock { $0.paths[file] = path }
    }

    public func move(to folder: String) throws {}

    public func removeData() throws {
        state.withLock { state in
            state.contents.removeAll()
            state.times.removeAll()
        }
    }
}
