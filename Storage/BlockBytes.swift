import NIOCore

/// The bytes of one received block as ``PieceStore`` writes and hashes them: an array (``BlockWrite``) or the
/// buffer the network read them into (``ReceivedBlock``). Either way the store writes them from where they
/// are (`withUnsafeBytes`), never through an intermediate copy.
enum BlockBytes: Sendable {
    /// Bytes in an array.
    case array([UInt8])
    /// The readable bytes of a buffer.
    case buffer(ByteBuffer)

    /// Number of bytes.
    var count: Int {
        switch self {
        case .array(let bytes): bytes.count
        case .buffer(let buffer): buffer.readableBytes
        }
    }

    /// Calls `body` with the bytes in place.
    func withUnsafeBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        switch self {
        case .array(let bytes): try bytes.withUnsafeBytes(body)
        case .buffer(let buffer): try buffer.withUnsafeReadableBytes(body)
        }
    }
}
