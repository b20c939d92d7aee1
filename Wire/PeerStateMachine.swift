import BTMetainfo
import NIOCore

/// The per-peer protocol state machine (Net::BitTorrent::Peer of the seed documents): pure, no I/O, no clock.
///
/// Feed it what happened (bytes or messages from the peer, local commands, "the time is now T") and perform
/// the ``PeerAction``s it returns, in order. It tracks every status flag of the seeds (choking and interest
/// both ways, snubbed, parole, seed, upload-only, allowed-fast sets, suggestions, blocks in flight, rates,
/// reputation) and enforces BEP 3, 6 and 10: it keeps a request pipeline sized by the peer's `reqq` and the
/// measured rate, serves the peer's requests under BEP 6 rules, and ends the connection with a typed
/// ``DisconnectReason`` when the peer misbehaves.
///
/// Each phase of a connection is a state of its own, built from the one before it: queued → connecting →
/// handshaking → active → closed (an incoming connection starts handshaking). Only the active state reads
/// messages, keeps request queues and knows the peer's handshake and pieces; the closed state sends nothing.
///
/// ```swift
/// var peer = PeerStateMachine(configuration: config, incoming: false, source: .tracker, now: .now())
/// _ = peer.startConnecting(now: .now())
/// for action in peer.connectionEstablished(now: .now()) { perform(action) }   // sends our handshake
/// for action in peer.receive(bytes, now: .now()) { perform(action) }
/// ```
public struct PeerStateMachine: Sendable {
    /// The peer connected to us (seed 002 `incoming`); the opposite of seed 000 `local_connection`.
    public let isIncoming: Bool
    /// How we learnt of this peer.
    public let source: PeerSource
    /// The connection's state; each case holds what exists in that phase only.
    var state: State

    /// Creates a state machine for one connection. Outgoing connections start ``PeerPhase/queued``; incoming
    /// ones are already connected and start in ``PeerPhase/handshake``.
    public init(configuration: PeerConfiguration, incoming: Bool, source: PeerSource, now: NIODeadline) {
        self.isIncoming = incoming
        self.source = incoming ? .incoming : source
        let local = Local(configuration: configuration)
        self.state = incoming ? .handshaking(Handshaking(incoming: local, now: now)) : .queued(Queued(local))
    }

    // MARK: Connection lifecycle

    /// An outgoing connection leaves the queue and starts dialling.
    public mutating func startConnecting(now: NIODeadline) -> [PeerAction] {
        guard case .queued(let queued) = state else { return [] }
        state = .connecting(Connecting(queued, now: now))
        return []
    }

    /// The transport connected: an outgoing connection sends its handshake first.
    public mutating func connectionEstablished(now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        switch state {
        case .queued(let queued): state = .handshaking(Handshaking(queued, now: now, into: &actions))
        case .connecting(let connecting): state = .handshaking(Handshaking(connecting, now: now, into: &actions))
        default: break
        }
        return actions
    }

    /// The transport closed (by the peer: ``DisconnectReason/byRemote``) or failed (``DisconnectReason/ioError``).
    public mutating func connectionClosed(error: String? = nil, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.close(
            Closing(error == nil ? .byRemote : .ioError, error ?? "the peer closed the connection"), into: &actions)
        return actions
    }

    /// Closes the connection on our side.
    public mutating func disconnect(_ reason: DisconnectReason = .local, detail: String = "", now: NIODeadline)
        -> [PeerAction]
    {
        var actions: [PeerAction] = []
        state.close(Closing(reason, detail), into: &actions)
        return actions
    }

    // MARK: Input from the peer

    /// Bytes received from the peer (after any decryption): decodes the handshake, then messages. Before
    /// the transport connected and after the connection closed, bytes are ignored.
    public mutating func receive(_ bytes: ByteBuffer, now: NIODeadline) -> [PeerAction] {
        var more = false
        return receive(bytes, now: now, maximumMessages: .max, moreBuffered: &more)
    }

    /// Like ``receive(_:now:)``, handling at most `maximumMessages` messages; `moreBuffered` tells whether
    /// it stopped there with bytes still buffered (call again with an empty buffer). The driver performs a
    /// large read's answers in such steps, so what one read makes us hold (actions, queued output) is
    /// bounded by the step, not by the read.
    package mutating func receive(
        _ bytes: ByteBuffer, now: NIODeadline, maximumMessages: Int, moreBuffered: inout Bool
    ) -> [PeerAction] {
        moreBuffered = false
        var actions: [PeerAction] = []
        switch state {
        case .handshaking(var handshaking):
            state = .modifying
            let received: (handshake: Handshake, rest: ByteBuffer)?
            do throws(Closing) {
                received = try handshaking.receive(bytes)
            } catch {
                state = .closed(Closed(handshaking, error, into: &actions))
                return actions
            }
            state = .handshaking(handshaking)
            guard let received else { return actions }
            receiveHandshake(received.handshake, now: now, into: &actions)
            var stopped = false
            state.withActive(&actions) { active, actions throws(Closing) in
                stopped = try active.receive(received.rest, now: now, limit: maximumMessages, into: &actions)
            }
            moreBuffered = stopped && state.isActive
        case .active:
            var stopped = false
            state.withActive(&actions) { active, actions throws(Closing) in
                stopped = try active.receive(bytes, now: now, limit: maximumMessages, into: &actions)
            }
            moreBuffered = stopped && state.isActive
        case .queued, .connecting, .closed, .modifying:
            break
        }
        return actions
    }

    /// A handshake decoded by the caller (e.g. after an MSE handshake chose the torrent).
    public mutating func receive(handshake: Handshake, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        receiveHandshake(handshake, now: now, into: &actions)
        return actions
    }

    /// A message decoded by the caller; ignored unless the connection is active.
    public mutating func receive(message: PeerMessage, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        state.withActive(&actions) { active, actions throws(Closing) in
            try active.receive(message: message, now: now, into: &actions)
        }
        return actions
    }

    /// The peer's handshake, while handshaking: accepted, the connection becomes active; refused, it closes.
    private mutating func receiveHandshake(_ handshake: Handshake, now: NIODeadline, into actions: inout [PeerAction]) {
        guard case .handshaking(var handshaking) = state else { return }
        state = .modifying
        do throws(Closing) {
            let remote = try handshaking.accept(handshake, now: now, into: &actions)
            state = .active(Active(handshaking, remote: remote, now: now, into: &actions))
        } catch {
            state = .closed(Closed(handshaking, error, into: &actions))
        }
    }

    // MARK: Time

    /// The time is now `now`: handshake timeout, request timeout (snubbing), useless-peer timeout, inactivity
    /// timeout, keep-alive.
    public mutating func tick(now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        switch state {
        case .connecting(let connecting):
            if let closing = connecting.timeout(now: now) { state.close(closing, into: &actions) }
        case .handshaking(let handshaking):
            if let closing = handshaking.timeout(now: now) { state.close(closing, into: &actions) }
        case .active:
            state.withActive(&actions) { active, actions throws(Closing) in try active.tick(now: now, into: &actions) }
        case .queued, .closed, .modifying:
            break
        }
        return actions
    }
}
