import BTMetainfo
import NIOCore

extension PeerStateMachine {
    /// Connected, waiting for the peer's handshake (seed 000 `handshake`). An outgoing connection has sent
    /// ours already; an incoming one answers once the peer's names our torrent. No message is read in this
    /// state: it has no decoder, no request queues and no peer bitfield.
    struct Handshaking: Sendable {
        /// Ours in every phase.
        var local: Local
        /// The peer connected to us: it speaks first, and a wrong info-hash is a torrent we do not serve.
        let isIncoming: Bool
        /// When the handshake timeout started: when the transport connected.
        let started: NIODeadline
        /// When we last sent something (our handshake, once sent).
        private(set) var lastSent: NIODeadline
        /// The start of the peer's handshake when it arrived in pieces.
        private var partial: ByteBuffer?

        /// An incoming connection: the peer sends its handshake first.
        init(incoming local: Local, now: NIODeadline) {
            self.local = local
            self.isIncoming = true
            self.started = now
            self.lastSent = now
        }

        /// A queued outgoing connection connected at once: sends our handshake.
        init(_ previous: Queued, now: NIODeadline, into actions: inout [PeerAction]) {
            self.init(outgoing: previous.local, now: now, into: &actions)
        }

        /// A dialled connection connected: sends our handshake; the handshake timeout starts again.
        init(_ previous: Connecting, now: NIODeadline, into actions: inout [PeerAction]) {
            self.init(outgoing: previous.local, now: now, into: &actions)
        }

        private init(outgoing local: Local, now: NIODeadline, into actions: inout [PeerAction]) {
            self.local = local
            self.isIncoming = false
            self.started = now
            self.lastSent = now
            sendHandshake(now: now, into: &actions)
        }

        /// Bytes from the peer: the handshake once it is complete, with the bytes that followed it; nil while
        /// more are needed. A malformed handshake ends the connection.
        mutating func receive(_ bytes: ByteBuffer) throws(Closing) -> (handshake: Handshake, rest: ByteBuffer)? {
            var buffer = bytes
            if var pending = partial {
                pending.writeImmutableBuffer(bytes)
                buffer = pending
                partial = nil
            }
            let handshake: Handshake?
            do throws(WireError) {
                handshake = try Handshake.decode(from: &buffer)
            } catch {
                throw Closing(.malformedHandshake, error.reason)
            }
            guard let handshake else {
                partial = buffer
                return nil
            }
            return (handshake, buffer)
        }

        /// Checks the peer's handshake (our torrent, not ourselves) and, on an incoming connection, answers
        /// with ours, naming the info-hash the peer named. Returns the handshake the active state keeps: the
        /// peer's, holding our info-hash array rather than a copy per connection.
        ///
        /// A hybrid torrent is named by its v1 hash or by its truncated v2 hash
        /// (``PeerConfiguration/alternateInfoHash``): a peer that speaks v2 answers our v1 handshake with the v2
        /// one (BEP 52's upgrade; the connection is then a v2 one), and may dial us with it.
        mutating func accept(_ handshake: Handshake, now: NIODeadline, into actions: inout [PeerAction])
            throws(Closing) -> Handshake
        {
            local.report(.packet(PacketEvent(.incoming, .handshake(handshake))), into: &actions)
            let configuration = local.configuration
            let named: [UInt8]
            if handshake.infoHash == configuration.infoHash {
                named = configuration.infoHash
            } else if let alternate = configuration.alternateInfoHash, handshake.infoHash == alternate {
                named = alternate
            } else {
                throw Closing(
                    isIncoming ? .noSuchTorrent : .handshakeInfoHashMismatch,
                    "handshake for info-hash \(NetBitTorrentHex.encode(handshake.infoHash))")
            }
            guard handshake.peerID != configuration.localPeerID else {
                throw Closing(.loopback, "the peer id is our own")
            }
            if isIncoming { sendHandshake(naming: named, now: now, into: &actions) }
            return Handshake(reserved: handshake.reserved, infoHash: named, peerID: handshake.peerID)
        }

        /// The handshake did not complete in time.
        func timeout(now: NIODeadline) -> Closing? {
            let limit = local.configuration.handshakeTimeout
            return now - started >= limit ? Closing(.handshakeTimeout, "no handshake after \(limit)") : nil
        }

        /// Sends our handshake naming `infoHash` (by default the torrent's wire info-hash).
        private mutating func sendHandshake(
            naming infoHash: [UInt8]? = nil, now: NIODeadline, into actions: inout [PeerAction]
        ) {
            let configuration = local.configuration
            let handshake = Handshake(
                reserved: configuration.localReserved, infoHash: infoHash ?? configuration.infoHash,
                peerID: configuration.localPeerID)
            lastSent = now
            actions.append(.sendHandshake(handshake))
            local.report(.packet(PacketEvent(.outgoing, .handshake(handshake))), into: &actions)
        }
    }
}
