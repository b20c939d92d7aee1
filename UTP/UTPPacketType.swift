/// The type of a uTP packet, the high nibble of its first byte (BEP 29, "type").
public enum UTPPacketType: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// `ST_DATA`: a packet with payload.
    case data = 0
    /// `ST_FIN`: the last packet of the sender's stream; its sequence number is the end of the stream.
    case fin = 1
    /// `ST_STATE`: an acknowledgement without payload; it does not consume a sequence number.
    case state = 2
    /// `ST_RESET`: ends the connection at once.
    case reset = 3
    /// `ST_SYN`: opens a connection; its connection id is the initiator's receive id.
    case syn = 4

    public var description: String {
        switch self {
        case .data: "ST_DATA"
        case .fin: "ST_FIN"
        case .state: "ST_STATE"
        case .reset: "ST_RESET"
        case .syn: "ST_SYN"
        }
    }
}
