#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads .torrent files from disk, bounded: a path from a user or another program may name something that
/// never ends (`/dev/zero`, `/dev/urandom`), never starts (a FIFO nobody writes to) or is simply huge.
///
/// ```swift
/// let bytes = try TorrentFileReader.read("ubuntu.torrent")  // at most 10 MB
/// let torrent = try Torrent(bytes: bytes)
/// ```
public enum TorrentFileReader {
    /// The bytes of the regular file at `path`, at most `limit` bytes.
    /// - Throws: ``MetainfoError`` with ``MetainfoError/Code/notARegularFile`` for a directory, device, FIFO
    ///   or socket (nothing is read from it, and opening a FIFO does not wait for a writer),
    ///   ``MetainfoError/Code/limitExceeded`` for a file larger than `limit` (also when it grows past it
    ///   while being read), ``MetainfoError/Code/ioError`` when it cannot be opened or read.
    public static func read(_ path: String, limit: Int = MetainfoLimits.maxTorrentFileSize) throws(MetainfoError)
        -> [UInt8]
    {
        // O_NONBLOCK: opening a FIFO for reading would otherwise block until a writer appears.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else {
            throw MetainfoError(.ioError, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw MetainfoError(.ioError, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            throw MetainfoError(.notARegularFile, "\(path) is \(describe(type)), not a torrent file")
        }
        guard info.st_size <= limit else {
            throw MetainfoError(
                .limitExceeded, "\(path) is \(info.st_size) bytes, more than a torrent file may be (\(limit))")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        while true {
            if count == bytes.count {
                guard count <= limit else { break }
                bytes.append(contentsOf: repeatElement(0, count: min(limit + 1, 2 * count + 4096) - count))
            }
            let got = bytes.withUnsafeMutableBytes { buffer in
                systemRead(descriptor, buffer.baseAddress! + count, buffer.count - count)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw MetainfoError(.ioError, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            count += got
        }
        guard count <= limit else {
            throw MetainfoError(.limitExceeded, "\(path) grew past \(limit) bytes while being read")
        }
        bytes.removeSubrange(count...)
        return bytes
    }

    private static func describe(_ type: mode_t) -> String {
        switch type {
        case S_IFDIR: return "a directory"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }
}

extension Torrent {
    /// Reads and parses the .torrent file at `path`: a regular file of at most
    /// ``MetainfoLimits/maxTorrentFileSize`` bytes (``TorrentFileReader/read(_:limit:)``).
    /// - Throws: ``MetainfoError``.
    public init(contentsOf path: String) throws(MetainfoError) {
        try self.init(bytes: TorrentFileReader.read(path))
    }
}

/// `read(2)`, named apart from ``TorrentFileReader/read(_:limit:)``.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
        Glibc.read(descriptor, buffer, count)
    #elseif canImport(Musl)
        Musl.read(descriptor, buffer, count)
    #else
        Darwin.read(descriptor, buffer, count)
    #endif
}
