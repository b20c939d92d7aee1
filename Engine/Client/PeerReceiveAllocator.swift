import NIOCore

/// The read-buffer sizes of a peer socket: NIO's `AdaptiveRecvByteBufferAllocator` policy (double after a
/// read that fills the buffer, halve after two reads that use at most half of it), between 64 bytes and
/// 1 MiB, starting at ``initial``.
///
/// Its state is two small integers, so it fits in an existential's inline storage: NIO's adaptive allocator
/// (five fields) is boxed, and every channel copies the box at its first read (one more heap object per
/// connected peer).
struct PeerReceiveAllocator: RecvByteBufferAllocator {
    /// The smallest buffer.
    static let minimum = 64
    /// The first buffer: what an idle connected peer keeps (NIO keeps a channel's read buffer between reads);
    /// a handshake (68 bytes) fits.
    static let initial = 128
    /// The largest buffer: a fast peer's reads take up to 1 MiB (NIO's default stops at 64 KiB), so a fast
    /// transfer takes fewer reads and fewer passes through the state machine.
    static let maximum = 1 << 20

    /// The size of the next buffer (a power of two).
    private var size = UInt32(Self.initial)
    /// The last read used at most half of the buffer.
    private var decreaseNow = false

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        allocator.buffer(capacity: Int(size))
    }

    func nextBufferSize() -> Int? { Int(size) }

    mutating func record(actualReadBytes: Int) -> Bool {
        let current = Int(size)
        if actualReadBytes <= current / 2 && current / 2 >= Self.minimum {
            if decreaseNow {
                size = UInt32(current / 2)
                decreaseNow = false
            } else {
                decreaseNow = true
            }
            return false
        }
        decreaseNow = false
        guard actualReadBytes >= current && current * 2 <= Self.maximum else { return false }
        size = UInt32(current * 2)
        return true
    }
}
