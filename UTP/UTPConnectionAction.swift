import NIOCore

/// What a ``UTPConnection`` asks its driver to do after an input.
public enum UTPConnectionAction: Hashable, Sendable {
    /// Send this packet to the peer.
    case send(UTPPacket)
    /// The handshake completed: the connection can carry data both ways.
    case connected
    /// In-order stream bytes from the peer.
    case deliver(ByteBuffer)
    /// The peer's stream ended (its ST_FIN arrived and every byte before it was delivered).
    case endOfStream
    /// The connection is over; nothing more will be sent or delivered.
    case closed(UTPCloseReason)
}
