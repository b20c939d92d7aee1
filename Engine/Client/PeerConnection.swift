import BTMetainfo
import BTWire
import NIOCore

/// One peer connection of the client: the wire state machine plus the bookkeeping the engine needs.
///
/// Confined to the client's event loop, like ``ClientCore``; that is what makes the unchecked `Sendable`
/// sound (it crosses into `EventLoop.execute` closures only to be used back on the same loop).
final class PeerConnection: @unchecked Sendable {
    /// Connection id, also the picker's and choker's peer key and the storage's `PeerTag`.
    let key: UInt64
    /// The protocol state machine (nil for an incoming connection until its handshake names a torrent).
    var machine: PeerStateMachine?
    /// The NIO channel, once connected.
    var channel: (any Channel)?
    /// The torrent, once known.
    var session: TorrentSession?
    /// Where the peer is (for a peer dialled by name, the address the name resolved to once connected).
    var endpoint: PeerEndpoint
    /// Host text used to dial (outgoing) or seen (incoming).
    let host: String
    /// Port dialled (outgoing) or the remote port (incoming).
    let port: Int
    /// The peer connected to us.
    let isIncoming: Bool
    /// When the connection was created.
    let createdAt: NIODeadline
    /// When the peer last unchoked us.
    var unchokedUsAt: NIODeadline?
    /// When the last block arrived.
    var lastBlockAt: NIODeadline?
    /// Upload tokens granted by the rate limiter and not yet spent.
    var uploadTokens = 0
    /// Reads waiting for upload tokens.
    var pendingUploads: [BlockRequest] = []
    /// Downloaded bytes not yet covered by download tokens; no new requests while positive.
    var downloadDebt = 0
    /// Block payload received from this peer.
    var downloaded: Int64 = 0
    /// Block payload sent to this peer.
    var uploaded: Int64 = 0
    /// `peer_connect` was reported.
    var reportedConnect = false
    /// The connection is over.
    var isClosed = false
    /// Upload bytes queued in this process for the peer: blocks being read from storage plus `piece`
    /// messages handed to the channel and not yet written to the socket (see ``ClientCore`` back-pressure).
    var queuedUploadBytes = 0
    /// Requests accepted from the peer but not yet read because ``queuedUploadBytes`` is at the cap.
    var deferredUploads: [BlockRequest] = []
    /// The socket's `SO_RCVLOWAT` as last set (see `ClientCore.adjustReceiveWatermark`).
    var receiveWatermark = 1
    /// Bytes arrived since the last tick looked (see `ClientCore.relaxIdleReceiveWatermarks`).
    var receivedSinceTick = false

    init(key: UInt64, endpoint: PeerEndpoint, host: String, port: Int, incoming: Bool, now: NIODeadline) {
        self.key = key
        self.endpoint = endpoint
        self.host = host
        self.port = port
        self.isIncoming = incoming
        self.createdAt = now
    }

    /// Runs `body` on the state machine moved out of ``machine`` and puts it back: while it is out, its
    /// decoder buffer, request tables and queues are uniquely referenced, so they are mutated in place. (A
    /// `var machine = connection.machine` copy shares them with the stored value, and the first mutation of
    /// each then copies it whole: the decoder's receive buffer on every read.) Nil when there is no machine.
    func withMachine<R>(_ body: (inout PeerStateMachine) -> R) -> R? {
        guard var moved = machine else { return nil }
        machine = nil
        let result = body(&moved)
        machine = moved
        return result
    }

    /// Whether handshakes are done and messages flow.
    var isActive: Bool { machine?.phase == .active && !isClosed }

    /// The peer as events name it.
    var info: ClientEvent.PeerInfo {
        ClientEvent.PeerInfo(
            endpoint: endpoint, peerID: machine?.peerID?.bytes, torrent: session?.info, isIncoming: isIncoming)
    }
}

/// The NIO handler of a peer connection: hands bytes and closure to the ``ClientCore`` on the loop.
///
/// An incoming connection first buffers bytes until the 68-byte handshake names a torrent.
final class PeerWireHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let core: ClientCore
    private var connection: PeerConnection?
    private var pending: ByteBuffer?
    /// This incoming connection counts in ``ClientCore/incomingHandshakes``.
    private var countsAsHandshaking = false
    /// Closed before its handshake arrived; reported already.
    private var refused = false

    init(core: ClientCore, connection: PeerConnection?) {
        self.core = core
        self.connection = connection
    }

    func channelActive(context: ChannelHandlerContext) {
        if connection == nil {
            // Incoming: a bounded number may be waiting for their handshake, each within the timeout.
            let channel = context.channel
            guard core.incomingHandshakes < core.configuration.maximumIncomingHandshakes else {
                refuse(channel, .tooMany)
                context.fireChannelActive()
                return
            }
            core.incomingHandshakes += 1
            countsAsHandshaking = true
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let timeout = core.configuration.incomingHandshakeTimeout
            context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                let handler = handler.value
                if handler.connection == nil && !handler.refused { handler.refuse(channel, .handshakeTimeout) }
            }
        }
        context.fireChannelActive()
    }

    /// Stops counting this connection as one waiting for its handshake.
    private func handshakeOver() {
        guard countsAsHandshaking else { return }
        countsAsHandshaking = false
        core.incomingHandshakes -= 1
    }

    /// Closes an incoming connection that sent no usable handshake, with `peer_disconnect` and `reason`.
    private func refuse(_ channel: any Channel, _ reason: DisconnectReason) {
        refused = true
        handshakeOver()
        core.incomingRefused(channel, reason: reason)
        channel.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if let connection {
            core.received(bytes, on: connection)
            return
        }
        guard !refused else { return }
        if var buffered = pending {
            buffered.writeBuffer(&bytes)
            bytes = buffered
        }
        var probe = bytes
        let handshake: Handshake?
        do {
            handshake = try Handshake.decode(from: &probe)
        } catch {
            refuse(context.channel, .malformedHandshake)
            return
        }
        guard let handshake else {
            pending = bytes
            return
        }
        pending = nil
        handshakeOver()
        connection = core.accept(channel: context.channel, handshake: handshake, bytes: bytes)
        if connection == nil { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeOver()
        if let connection { core.channelClosed(connection, error: nil) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let connection { core.channelClosed(connection, error: "\(error)") }
        context.close(promise: nil)
    }
}
