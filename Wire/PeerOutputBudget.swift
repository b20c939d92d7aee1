/// The bound on what one peer makes this process hold for it: every byte handed to its channel and not yet
/// taken by the socket, plus a cost per message and per channel write for the memory that is not payload.
///
/// A peer that never reads makes us queue whatever we answer it: blocks, but also a 17-byte `reject` for
/// every `request` + `cancel` pair of a flood. Counting payload bytes alone misses what such small messages
/// really cost (issue 12 measured +64 MiB of resident memory for 1 MiB of counted bytes), so each message
/// and each write is charged a fixed overhead (``messageOverhead``, ``writeOverhead``), and the connection
/// is closed with ``DisconnectReason/sendBufferFull`` once the total passes ``maximumCost``.
public struct PeerOutputBudget: Hashable, Sendable {
    /// Most cost (bytes plus overheads) queued for one peer before it is disconnected.
    public var maximumCost: Int

    /// Charged per message on top of its bytes: small messages are coalesced into one buffer per flush,
    /// which grows by doubling, so a message can hold up to about its own size again in spare capacity.
    public static let messageOverhead = 16
    /// Charged per channel write: the `ByteBuffer` storage object, SwiftNIO's pending-write entry and, for
    /// the last write of a batch, the promise and its callback (a few hundred bytes together).
    public static let writeOverhead = 256

    /// A budget of `maximumCost` (1 MiB by default, as the engine's `maximumQueuedOutputBytesPerPeer`).
    public init(maximumCost: Int = 1 << 20) {
        self.maximumCost = maximumCost
    }
}

/// What a ``PeerChannelHandler`` has queued for its peer and the socket has not taken yet: bytes, messages
/// and channel writes, and the ``cost`` a ``PeerOutputBudget`` bounds.
public struct PeerOutputQueue: Hashable, Sendable {
    /// Bytes queued (messages as encoded, blocks included).
    public internal(set) var bytes = 0
    /// Messages queued (the handshake counts as one, a `piece` as one).
    public internal(set) var messages = 0
    /// Buffers handed to the channel, or about to be (coalesced small messages make one).
    public internal(set) var writes = 0

    /// An empty queue.
    public init() {}

    /// Bytes plus the per-message and per-write overheads: what the budget bounds.
    public var cost: Int {
        bytes + messages * PeerOutputBudget.messageOverhead + writes * PeerOutputBudget.writeOverhead
    }

    /// Whether nothing is queued.
    public var isEmpty: Bool { bytes == 0 && messages == 0 && writes == 0 }

    /// Adds `other` (queued output).
    mutating func add(_ other: PeerOutputQueue) {
        bytes += other.bytes
        messages += other.messages
        writes += other.writes
    }

    /// Removes `other` (output the socket took, or dropped with the channel).
    mutating func remove(_ other: PeerOutputQueue) {
        bytes -= other.bytes
        messages -= other.messages
        writes -= other.writes
    }
}
