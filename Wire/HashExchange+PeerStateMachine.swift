import NIOCore

extension PeerStateMachine {
    /// Sends a BEP 52 hash exchange message (`hash request`, `hashes` or `hash reject`) on an active connection;
    /// nothing before the handshakes are done, after the connection closed, or for any other message.
    ///
    /// The peer's own hash messages arrive as ``PeerAction/forward(_:)``: answering and verifying them is the
    /// caller's (``PieceLayerServe``, ``PieceLayerFetch``).
    public mutating func sendHashExchange(_ message: PeerMessage, now: NIODeadline) -> [PeerAction] {
        switch message {
        case .hashRequest, .hashes, .hashReject: break
        default: return []
        }
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions in active.send(message, now: now, into: &actions) }
        return actions
    }
}

extension PeerMessage {
    /// Whether this is a BEP 52 hash exchange message (`hash request`, `hashes` or `hash reject`).
    public var isHashExchange: Bool {
        switch self {
        case .hashRequest, .hashes, .hashReject: true
        default: false
        }
    }
}
