/// How a simulated peer behaves beyond what its engine decides.
public enum PeerBehaviour: String, Sendable, Hashable, CaseIterable, Codable {
    /// Runs the engine as it is.
    case honest
    /// Never uploads: its `unchoke` and `allowed fast` messages are dropped on the wire, so no peer ever
    /// believes it may request from it (the engine underneath still runs its choker).
    case freeRider
    /// Sends wrong data: every block of its `piece` messages is altered on the wire, so each piece it
    /// contributes to fails its hash at the receiver.
    case liar
}
