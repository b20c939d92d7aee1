#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a storage operation failed.
///
/// A struct with an opaque ``Code`` (new kinds can be added without breaking users) that always names the
/// operation and, when there is one, the file. The engine turns it into the seed's `file_error` event and
/// pauses the torrent; nothing already verified is lost.
public struct StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// No space left on the device (`ENOSPC`, `EDQUOT`).
        public static let diskFull = Code("diskFull")
        /// The process may not open, create or change the file (`EACCES`, `EPERM`).
        public static let permissionDenied = Code("permissionDenied")
        /// The file would grow past what the file system or a resource limit allows (`EFBIG`).
        public static let fileTooLarge = Code("fileTooLarge")
        /// The volume is mounted read-only (`EROFS`).
        public static let readOnlyVolume = Code("readOnlyVolume")
        /// A file that should hold verified data is missing, shorter or was modified behind our back.
        public static let fileChanged = Code("fileChanged")
        /// A path from the torrent would leave the download folder (`..`, absolute, symlink pointing out).
        public static let unsafePath = Code("unsafePath")
        /// The file or folder does not exist (`ENOENT`).
        public static let notFound = Code("notFound")
        /// A block or piece request outside the torrent (bad index, offset or length).
        public static let invalidRequest = Code("invalidRequest")
        /// Resume data that cannot be parsed or does not belong to this torrent.
        public static let invalidResumeData = Code("invalidResumeData")
        /// The operation was cancelled.
        public static let cancelled = Code("cancelled")
        /// More bytes wait to be written or read than a front end's limit allows (``PieceStore/BlockWriter``,
        /// ``PieceStore/BlockReader``): the caller asked faster than the disk answers.
        public static let backlogFull = Code("backlogFull")
        /// Any other I/O failure (``StorageError/errno`` has the system's code).
        public static let ioError = Code("ioError")
    }

    /// What was being done when the failure happened.
    public struct Operation: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Opening or creating a file.
        public static let open = Operation("open")
        /// Reading from a file.
        public static let read = Operation("read")
        /// Writing to a file.
        public static let write = Operation("write")
        /// Reading a file's size and modification time.
        public static let stat = Operation("stat")
        /// Flushing a file to stable storage.
        public static let sync = Operation("sync")
        /// Renaming a file or moving the storage.
        public static let move = Operation("move")
        /// Deleting files.
        public static let remove = Operation("remove")
        /// Checking that a path stays inside the download folder.
        public static let resolvePath = Operation("resolvePath")
        /// Writing or loading resume data.
        public static let resume = Operation("resume")
        /// Hash-checking existing data.
        public static let check = Operation("check")
    }

    /// The kind of failure.
    public let code: Code
    /// The operation that failed.
    public let operation: Operation
    /// The file concerned (full path), when there is one.
    public let path: String?
    /// The system error number, when the failure came from a system call.
    public let errno: Int32?
    /// A human readable explanation.
    public let reason: String

    /// Creates an error.
    public init(_ code: Code, _ operation: Operation, path: String?, errno: Int32? = nil, reason: String) {
        self.code = code
        self.operation = operation
        self.path = path
        self.errno = errno
        self.reason = reason
    }

    /// Creates an error from a system error number, choosing the code from it.
    package init(errno number: Int32, _ operation: Operation, path: String?) {
        let code: Code
        switch number {
        case ENOSPC, EDQUOT: code = .diskFull
        case EACCES, EPERM: code = .permissionDenied
        case EFBIG: code = .fileTooLarge
        case EROFS: code = .readOnlyVolume
        case ENOENT: code = .notFound
        default: code = .ioError
        }
        let message = String(cString: strerror(number))
        self.init(code, operation, path: path, errno: number, reason: message)
    }

    /// One line: operation, file and reason.
    public var description: String {
        if let path { return "\(operation) \(path): \(reason) (\(code))" }
        return "\(operation): \(reason) (\(code))"
    }
}
