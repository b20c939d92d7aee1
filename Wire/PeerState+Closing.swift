extension PeerStateMachine {
    /// A state's decision to end the connection: thrown from inside a state and caught where the machine
    /// moves to ``Closed``, which answers ``PeerAction/disconnect(_:detail:)``. It never leaves the machine:
    /// a peer's misbehaviour reaches the caller as a disconnect action, not as an error.
    struct Closing: Error, Sendable {
        /// Why the connection ends.
        let reason: DisconnectReason
        /// What happened, for logs.
        let detail: String

        /// A decision to end the connection for `reason`.
        init(_ reason: DisconnectReason, _ detail: String) {
            self.reason = reason
            self.detail = detail
        }
    }
}
