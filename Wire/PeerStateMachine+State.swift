import NIOCore

extension PeerStateMachine {
    /// The phases of a connection, each a type of its own.
    enum State: Sendable {
        /// Waiting for a connection slot.
        case queued(Queued)
        /// Dialling.
        case connecting(Connecting)
        /// Connected, waiting for the peer's handshake.
        case handshaking(Handshaking)
        /// Handshakes done; messages flow.
        case active(Active)
        /// Ended.
        case closed(Closed)
        /// Only while a state is moved out to be changed in place (so that its tables are not copied); never
        /// seen outside a mutation.
        case modifying

        /// Runs `body` on the active state moved out of `self` (so its tables are uniquely referenced and
        /// changed in place, not copied) and puts back the state it leads to: active again, or closed when `body`
        /// throws. False (and `body` is not run) unless the connection is active.
        @discardableResult
        mutating func withActive(
            _ actions: inout [PeerAction],
            _ body: (inout Active, inout [PeerAction]) throws(Closing) -> Void
        ) -> Bool {
            guard case .active = self else { return false }
            // Moved out, not copied: the payload's buffers and tables stay uniquely referenced without a
            // retain and release of each (measured: the copy cost ~2% of an in-memory transfer's CPU).
            guard case .active(var active) = consume self else { preconditionFailure("checked above") }
            do throws(Closing) {
                try body(&active, &actions)
                self = .active(active)
            } catch {
                self = .closed(Closed(active, error, into: &actions))
            }
            return true
        }

        /// Runs `body` on ``Local`` in whatever state this is; when it throws, the connection closes.
        mutating func withLocal(
            _ actions: inout [PeerAction], _ body: (inout Local, inout [PeerAction]) throws(Closing) -> Void
        ) {
            var closing: Closing?
            switch self {
            case .queued(var queued):
                self = .modifying
                do throws(Closing) { try body(&queued.local, &actions) } catch { closing = error }
                self = .queued(queued)
            case .connecting(var connecting):
                self = .modifying
                do throws(Closing) { try body(&connecting.local, &actions) } catch { closing = error }
                self = .connecting(connecting)
            case .handshaking(var handshaking):
                self = .modifying
                do throws(Closing) { try body(&handshaking.local, &actions) } catch { closing = error }
                self = .handshaking(handshaking)
            case .active:
                withActive(&actions) { active, actions throws(Closing) in try body(&active.local, &actions) }
            case .closed(var closed):
                self = .modifying
                do throws(Closing) { try body(&closed.local, &actions) } catch { closing = error }
                self = .closed(closed)
            case .modifying:
                preconditionFailure("the peer state machine is being modified")
            }
            if let closing { close(closing, into: &actions) }
        }

        /// Ends the connection from whatever state it is in (nothing happens once closed).
        mutating func close(_ closing: Closing, into actions: inout [PeerAction]) {
            switch self {
            case .queued(let queued): self = .closed(Closed(queued, closing, into: &actions))
            case .connecting(let connecting): self = .closed(Closed(connecting, closing, into: &actions))
            case .handshaking(let handshaking): self = .closed(Closed(handshaking, closing, into: &actions))
            case .active(let active): self = .closed(Closed(active, closing, into: &actions))
            case .closed, .modifying: break
            }
        }

        /// Whether the connection is active (handshakes done, not closed).
        var isActive: Bool {
            if case .active = self { true } else { false }
        }

        /// Ours in every phase.
        var local: Local {
            switch self {
            case .queued(let queued): queued.local
            case .connecting(let connecting): connecting.local
            case .handshaking(let handshaking): handshaking.local
            case .active(let active): active.local
            case .closed(let closed): closed.local
            case .modifying: preconditionFailure("the peer state machine is being modified")
            }
        }

        /// What both sides have said, once the connection became active (kept after it closed).
        var link: Link? {
            switch self {
            case .active(let active): active.link
            case .closed(let closed): closed.link
            case .queued, .connecting, .handshaking, .modifying: nil
            }
        }

        /// Runs `body` on the link of an active or closed connection, changed in place; nil before the
        /// handshakes.
        mutating func withLink<R>(_ body: (inout Link) -> R) -> R? {
            switch self {
            case .active:
                var result: R?
                var none: [PeerAction] = []
                withActive(&none) { active, _ in result = body(&active.link) }
                return result
            case .closed(var closed):
                guard closed.link != nil else { return nil }
                self = .modifying
                defer { self = .closed(closed) }
                return body(&closed.link!)
            case .queued, .connecting, .handshaking, .modifying:
                return nil
            }
        }
    }
}
