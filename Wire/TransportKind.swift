/// What carries a peer connection's byte stream (seed 000: TCP-based and uTP-based peers).
public enum TransportKind: String, Hashable, Sendable, CaseIterable {
    /// TCP.
    case tcp
    /// uTP (BEP 29) over UDP.
    case utp
}
