import BTMetainfo
import BTWire
import NIOCore

/// One peer connection of the client: the bookkeeping the engine needs around the one driver of the wire
/// protocol, BTWire's ``PeerChannelHandler``, which owns the state machine once the channel exists.
///
/// Confined to the client's event loop, like ``ClientCore``; that is what makes the unchecked `Sendable`
/// sound (it crosses into `EventLoop.execute` closures only to be used back on the same loop). It is its
/// driver's delegate and hands everything on to the core.
final class PeerConnection: @unchecked Sendable {
    /// Connection id, also the picker's and choker's peer key and the storage's `PeerTag`.
    let key: UInt64
    /// The engine.
    unowned let core: ClientCore
    /// The driver, once the channel exists; it owns the state machine from then on.
    var driver: PeerChannelHandler?
    /// The state machine of a dial that has no channel yet (queued or connecting); moved into the driver.
    private var pendingMachine: PeerStateMachine?
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
    /// When we last sent the peer a block.
    var lastUploadAt: NIODeadline?
    /// Peer exchange with this peer (BEP 11), when both sides speak it.
    var pex: PeerExchangeState?
    /// We sent the peer metadata pieces (BEP 9): it was fetching the torrent's info dictionary from us.
    var servedMetadata = false
    /// RC4 carries the connection's payload (MSE settled on it).
    var isEncrypted = false
    /// Our MSE handshake with the peer failed (an outgoing connection redials it in plaintext under
    /// `EncryptionPolicy/preferred`).
    var encryptionFailed = false
    /// Dialled without MSE (a plaintext redial, or the policy is `EncryptionPolicy/none`).
    var plaintextOnly = false
    /// Holepunch messages from the peer since ``holepunchWindowStart`` (see `Holepuncher`).
    var holepunchMessages = 0
    /// When the current minute of counting holepunch messages began.
    var holepunchWindowStart = NIODeadline.uptimeNanoseconds(0)
    /// Dialled by a hybrid's truncated v2 info-hash, MSE keyed by it too (see
    /// `ConnectionManager.dialsByV2Identity`): the peer then treats the connection as a v2 one.
    var dialledAsV2 = false
    /// Upload tokens granted by the rate limiter and not yet spent.
    var uploadTokens = 0
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
    /// Upload bytes of blocks claimed from the serving queue and not yet handed to the driver (being read).
    /// The requests themselves wait in the state machine's serving queue, the one upload queue (see
    /// Uploader+Backpressure.swift).
    var admittedUploadBytes = 0
    /// Blocks go to this peer as file regions (`sendfile`): plain TCP, nothing encrypts the stream (see
    /// `Uploader.sendsFromFiles`).
    var sendsFromFiles = false
    /// The socket's `SO_RCVLOWAT` as last set (see `ClientCore.adjustReceiveWatermark`).
    var receiveWatermark = 1
    /// Bytes arrived since the last tick looked (see `ClientCore.relaxIdleReceiveWatermarks`).
    var receivedSinceTick = false

    init(
        key: UInt64, core: ClientCore, endpoint: PeerEndpoint, host: String, port: Int, incoming: Bool,
        now: NIODeadline, machine: PeerStateMachine? = nil
    ) {
        self.key = key
        self.core = core
        self.endpoint = endpoint
        self.host = host
        self.port = port
        self.isIncoming = incoming
        self.createdAt = now
        self.pendingMachine = machine
    }

    /// The channel, once the driver is in it.
    var channel: (any Channel)? { driver?.channel }

    /// A snapshot of the state machine (the driver's, or the pending one of a dial without a channel).
    /// A copy of the machine: fine for status and rare decisions; a hot path asks through ``withMachine(_:)``.
    var machine: PeerStateMachine? { driver?.machine ?? pendingMachine }

    /// Upload bytes this process holds for the peer: admitted blocks plus everything handed to its channel
    /// and not yet taken by the socket (every message, not only blocks), bounded by
    /// ``ClientConfiguration/maximumQueuedUploadBytesPerPeer`` (see Uploader+Backpressure.swift).
    var queuedUploadBytes: Int { admittedUploadBytes + (driver?.queuedOutputBytes ?? 0) }

    /// Runs `body` on the state machine in place (the driver's, or the pending one); nil when there is none.
    func withMachine<R>(_ body: (inout PeerStateMachine) -> R) -> R? {
        if let driver { return driver.withMachine(body) }
        guard var moved = pendingMachine.take() else { return nil }
        let result = body(&moved)
        pendingMachine = moved
        return result
    }

    /// Makes a driver for a channel of this dial. A dial by name may try several addresses, one channel
    /// each: every driver starts with a copy of the machine, and the one whose channel becomes active is
    /// adopted (``adopt(_:)``) with the machine as it is then.
    func makeDriver() -> PeerChannelHandler {
        PeerChannelHandler(
            machine: pendingMachine, delegate: self, tickInterval: nil,
            trickledReads: core.configuration.trickledReads)
    }

    /// `handler`'s channel is the one that connected: it drives the connection from now on, with the
    /// machine as it is now (it may have learnt pieces while connecting).
    private func adopt(_ handler: PeerChannelHandler) {
        guard driver == nil, let machine = pendingMachine else { return }
        handler.adopt(machine)
        pendingMachine = nil
        driver = handler
    }

    /// Whether handshakes are done and messages flow.
    /// Asked several times per read: through ``withMachine(_:)`` (moved out and back), since ``machine``
    /// returns a copy, and copying the machine retains and releases everything it holds.
    var isActive: Bool { !isClosed && withMachine { $0.phase == .active } == true }

    /// The peer as events name it.
    var info: ClientEvent.PeerInfo {
        ClientEvent.PeerInfo(
            endpoint: endpoint, peerID: machine?.peerID?.bytes, torrent: session?.info, isIncoming: isIncoming)
    }
}

extension PeerConnection: PeerChannelDelegate {
    func peerChannelShouldStart(_ handler: PeerChannelHandler) -> Bool {
        guard !isClosed, driver == nil else { return false }
        adopt(handler)
        return core.connections.shouldStart(self)
    }
    func peerChannel(_ handler: PeerChannelHandler, didEmit action: PeerAction) { core.handle(action, on: self) }
    func peerChannelDidAct(_ handler: PeerChannelHandler) { core.acted(self) }
    func peerChannel(_ handler: PeerChannelHandler, didRead bytes: Int) { core.connections.read(bytes, on: self) }
    func peerChannel(_ handler: PeerChannelHandler, didWrite bytes: Int) { core.connections.wrote(bytes, on: self) }
    func peerChannel(_ handler: PeerChannelHandler, didSend bytes: Int) { core.uploads.startReads(self) }
    func peerChannelReadComplete(_ handler: PeerChannelHandler) { core.connections.adjustReceiveWatermark(self) }
}
