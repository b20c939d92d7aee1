import BTMetainfo
import NIOCore

/// One block received from a peer, as the network delivered it: its address, the buffer holding its bytes
/// (typically a slice of the buffer NIO read from the socket) and who sent it. What
/// `PieceStore.writeBlocks(_: [ReceivedBlock])` and ``PieceStore/BlockWriter`` take; the bytes are written
/// and hashed from the buffer itself.
public struct ReceivedBlock: Sendable {
    /// The block's address; `request.length` must equal the buffer's readable bytes.
    public var request: BlockRequest
    /// The block's bytes: the buffer's readable bytes.
    public var bytes: ByteBuffer
    /// Who sent it (named when its piece fails its hash).
    public var peer: PeerTag

    /// A block of `request` whose bytes are `bytes`' readable bytes, received from `peer`.
    public init(_ request: BlockRequest, bytes: ByteBuffer, from peer: PeerTag) {
        self.request = request
        self.bytes = bytes
        self.peer = peer
    }
}
