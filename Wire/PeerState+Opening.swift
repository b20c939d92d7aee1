import NIOCore

extension PeerStateMachine {
    /// An outgoing connection waiting for a connection slot (seed 000 `queued`): nothing is known of the
    /// peer and nothing can be sent.
    struct Queued: Sendable {
        /// Ours in every phase.
        var local: Local

        /// A new outgoing connection.
        init(_ local: Local) {
            self.local = local
        }
    }

    /// An outgoing connection being dialled (seed 000 `connecting`); the handshake timeout runs from here.
    struct Connecting: Sendable {
        /// Ours in every phase.
        var local: Local
        /// When dialling started.
        let started: NIODeadline

        /// The queued connection got its slot and starts dialling.
        init(_ previous: Queued, now: NIODeadline) {
            self.local = previous.local
            self.started = now
        }

        /// The handshake did not complete in time (counted from the start of dialling).
        func timeout(now: NIODeadline) -> Closing? {
            let limit = local.configuration.handshakeTimeout
            return now - started >= limit ? Closing(.handshakeTimeout, "no handshake after \(limit)") : nil
        }
    }
}
