/// The peer (or any other source) that sent a block, as an opaque tag chosen by the caller.
///
/// Storage only collects these per piece so that a failed piece can be reported with the set of peers that
/// contributed to it (seed 001: -20 reputation per corrupt piece).
public struct PeerTag: Hashable, Sendable, CustomStringConvertible {
    /// The caller's identifier (a connection number, a hash of the peer id, ...).
    public let rawValue: UInt64
    /// Wraps an identifier.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    /// Tag for data that did not come from a peer (resumed from disk, local).
    public static let local = PeerTag(0)
    public var description: String { "peer#\(rawValue)" }
}

/// A file of the torrent as named in events: its index in the layout and its path below the download folder.
public struct StorageFileRef: Hashable, Sendable, CustomStringConvertible {
    /// Index into the torrent's file list (pad files included).
    public let index: Int
    /// Path components below the download folder.
    public let path: [String]
    /// Creates a reference.
    public init(index: Int, path: [String]) {
        self.index = index
        self.path = path
    }
    public var description: String { path.joined(separator: "/") }
}

/// How a file was opened (seed 004 `file_open` `Mode`: 'r' or 'w').
public enum FileOpenMode: String, Hashable, Sendable {
    /// Read only (seeding, hash checking).
    case read = "r"
    /// Read and write (downloading).
    case write = "w"
}

/// The storage events of the seed's catalogue (004): `file_open`, `file_close`, `file_read`, `file_write`,
/// `file_error`, `piece_hash_pass`, `piece_hash_fail`, with the fields each carries.
public enum StorageEvent: Hashable, Sendable {
    /// `file_open`: a file was opened (`File`, `Mode`).
    case fileOpen(file: StorageFileRef, mode: FileOpenMode)
    /// `file_close`: a file handle was closed (`File`).
    case fileClose(file: StorageFileRef)
    /// `file_read`: bytes were read from a file (`File`, `Length`).
    case fileRead(file: StorageFileRef, length: Int)
    /// `file_write`: bytes were written to a file (`File`, `Length`).
    case fileWrite(file: StorageFileRef, length: Int)
    /// `file_error`: an operation on a file failed (`File`, `Message`); the typed error is attached.
    case fileError(file: StorageFileRef?, message: String, error: StorageError)
    /// `piece_hash_pass`: a previously missing piece verified (`Index`).
    case pieceHashPass(index: Int)
    /// `piece_hash_fail`: a piece failed its hash (`Index`), with the peers that sent its blocks.
    case pieceHashFail(index: Int, peers: Set<PeerTag>)
}

/// Receives storage events; called on storage threads, so it must be quick and thread-safe.
public typealias StorageEventHandler = @Sendable (StorageEvent) -> Void

extension StorageEvent {
    /// An `AsyncStream` of events and the handler that feeds it, for consumers that prefer iteration.
    /// The default buffers the newest 4096 events; a consumer that falls behind loses the oldest.
    public static func makeStream(
        bufferingPolicy: AsyncStream<StorageEvent>.Continuation.BufferingPolicy = .bufferingNewest(4096)
    ) -> (stream: AsyncStream<StorageEvent>, handler: StorageEventHandler, finish: @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream.makeStream(of: StorageEvent.self, bufferingPolicy: bufferingPolicy)
        return (stream, { continuation.yield($0) }, { continuation.finish() })
    }
}
