import NIOCore

extension PeerStateMachine {
    /// The connection ended. Nothing is read or sent any more; what was known of the peer when it ended
    /// (its ``Link``, if the handshakes were done) stays readable for status, without queues or a decoder.
    struct Closed: Sendable {
        /// Ours in every phase (our pieces still follow ``PeerStateMachine/havePiece(_:now:)``).
        var local: Local
        /// Why the connection ended.
        let reason: DisconnectReason
        /// What both sides had said, when the connection had become active.
        var link: Link?

        /// A connection that never became active ends.
        private init(_ local: Local, _ closing: Closing, into actions: inout [PeerAction]) {
            self.local = local
            self.reason = closing.reason
            self.link = nil
            actions.append(.disconnect(closing.reason, detail: closing.detail))
        }

        /// A queued connection ends.
        init(_ previous: Queued, _ closing: Closing, into actions: inout [PeerAction]) {
            self.init(previous.local, closing, into: &actions)
        }

        /// A connection being dialled ends.
        init(_ previous: Connecting, _ closing: Closing, into actions: inout [PeerAction]) {
            self.init(previous.local, closing, into: &actions)
        }

        /// A connection waiting for the peer's handshake ends.
        init(_ previous: Handshaking, _ closing: Closing, into actions: inout [PeerAction]) {
            self.init(previous.local, closing, into: &actions)
        }

        /// An active connection ends: the requests still in flight go back to the picker, then the
        /// disconnect.
        init(_ previous: Active, _ closing: Closing, into actions: inout [PeerAction]) {
            self.local = previous.local
            self.reason = closing.reason
            self.link = previous.link
            let returned = previous.requests.sorted
            if !returned.isEmpty { actions.append(.requestsReturned(returned)) }
            actions.append(.disconnect(closing.reason, detail: closing.detail))
        }
    }
}
