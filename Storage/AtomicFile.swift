import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Replaces a file atomically: the new bytes go to a temporary file of their own beside it (a unique name,
/// created exclusively, so two writers never share one), which is flushed (`fsync`), renamed over the old
/// one, and the folder flushed so the rename itself survives a crash.
package enum AtomicFile {
    /// Distinguishes the temporary files of one process.
    private static let counter = Locked(UInt64(0))

    /// A fresh temporary name beside `path`: `path.tmp-PID-COUNTER-RANDOM`.
    package static func temporaryName(for path: String) -> String {
        let serial = counter.withLock { value -> UInt64 in
            value += 1
            return value
        }
        return "\(path).tmp-\(getpid())-\(serial)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    package static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = temporaryName(for: path)
        do {
            let descriptor = try FileDescriptor.open(
                FilePath(temporary), .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
            do {
                _ = try bytes.withUnsafeBytes { try descriptor.writeAll(toAbsoluteOffset: 0, $0) }
                if fsync(descriptor.rawValue) != 0 { throw Errno(rawValue: errno) }
                try descriptor.close()
            } catch {
                try? descriptor.close()
                throw error
            }
        } catch let error as Errno {
            if error != .fileExists { unlink(temporary) }
            throw StorageError(errno: error.rawValue, .resume, path: temporary)
        }
        if rename(temporary, path) != 0 {
            let number = errno
            unlink(temporary)
            throw StorageError(errno: number, .resume, path: path)
        }
        let folder = FilePath(path).removingLastComponent()
        let folderPath = folder.isEmpty ? "." : folder.string
        let directory = open(folderPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// The bytes of `path`, or nil when it does not exist.
    package static func read(_ path: String, limit: Int = 256 << 20) throws -> [UInt8]? {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        } catch let error as Errno {
            if error == .noSuchFileOrDirectory { return nil }
            throw StorageError(errno: error.rawValue, .resume, path: path)
        }
        defer { try? descriptor.close() }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
            } catch let error as Errno {
                throw StorageError(errno: error.rawValue, .resume, path: path)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[..<count])
            guard result.count <= limit else {
                throw StorageError(
                    .invalidResumeData, .resume, path: path, reason: "resume data larger than \(limit) bytes")
            }
        }
        return result
    }
}
