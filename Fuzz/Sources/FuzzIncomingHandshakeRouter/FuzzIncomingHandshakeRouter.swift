import BTMetainfo
import BTWire
import NIOCore
import NIOEmbedded

/// The first bytes of an incoming connection, as the engine receives them: a ``PeerChannelHandler`` without
/// a machine decodes the handshake (in whatever pieces it arrives), asks its delegate to route it by
/// info-hash (two torrents known, as the engine's `IncomingConnections` routes), and runs the chosen torrent's
/// machine on what follows. The input's first byte chooses how it is split and whether a valid handshake
/// header (with a known or unknown info-hash) is put in front, so that both the routing and the bytes after
/// it are reached. Invariants: the delegate routes at most once; a connection closed before its handshake
/// is reported once and never routed afterwards; a routed connection has a machine; nothing is delivered
/// after the close; the handshake timeout ends a connection that never completed its handshake.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let mode = input[0]
    var stream: [UInt8] = []
    if mode & 1 == 1 {
        // A valid header: the known torrents' info-hashes are 0x11... and 0x22..., 0x33... is unknown.
        let hash = [UInt8](repeating: [0x11, 0x22, 0x33][Int(mode >> 1) % 3], count: 20)
        stream += [19] + Array("BitTorrent protocol".utf8) + [0, 0, 0, 0, 0, 0x10, 0, 0x05] + hash
        stream += Array("-FZ0001-".utf8) + [UInt8](repeating: mode, count: 12)
    }
    stream += input.dropFirst()

    let router = Router()
    let handler = PeerChannelHandler(machine: nil, delegate: router, tickInterval: nil)
    let channel = EmbeddedChannel()
    do {
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6881)).wait()
    } catch {
        _ = try? channel.finish()
        return 0
    }
    var offset = 0
    var state = UInt64(size) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(mode)
    let largest = [1, 7, 68, 300, 5000][Int(mode >> 3) % 5]
    while offset < stream.count && channel.isActive {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let chunk = min(stream.count - offset, 1 + Int((state >> 33) % UInt64(largest)))
        var buffer = channel.allocator.buffer(capacity: chunk)
        buffer.writeBytes(stream[offset..<offset + chunk])
        offset += chunk
        try? channel.writeInbound(buffer)
        channel.embeddedEventLoop.run()
    }
    precondition(router.routes <= 1, "routed \(router.routes) times")
    precondition(router.closedBeforeHandshake <= 1, "closed before the handshake \(router.closedBeforeHandshake) times")
    precondition(router.routes == 0 || router.closedBeforeHandshake == 0, "routed and refused")
    if router.routes == 1 && router.accepted && channel.isActive {
        precondition(handler.machine != nil, "a routed connection has no machine")
    }
    if mode & 1 == 1, (mode >> 1) % 3 != 2, router.routes == 0 {
        preconditionFailure("a valid handshake of a known torrent was not routed")
    }
    // Time passes: a connection still waiting for its handshake times out (and is reported once).
    let waiting = router.routes == 0 && router.closedBeforeHandshake == 0 && channel.isActive
    channel.embeddedEventLoop.advanceTime(by: .seconds(31))
    if waiting {
        precondition(router.closedBeforeHandshake == 1 && router.lastReason == .handshakeTimeout, "no timeout")
    }
    let actionsBeforeClose = router.actionsAfterClose
    _ = try? channel.close().wait()
    try? channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 1, 2]))
    precondition(router.actionsAfterClose == actionsBeforeClose, "an action was delivered after the close")
    _ = try? channel.finish()
    // Pipeline teardown runs as loop tasks: run them, so the handler and the channel are released.
    channel.embeddedEventLoop.run()
    return 0
}

/// Routes by info-hash among two known torrents, like the engine's connection manager.
private final class Router: PeerChannelDelegate {
    var routes = 0
    var accepted = false
    var closedBeforeHandshake = 0
    var lastReason: DisconnectReason?
    var closed = false
    var actionsAfterClose = 0

    func peerChannel(_ handler: PeerChannelHandler, route handshake: Handshake) -> PeerChannelRoute {
        routes += 1
        guard let first = handshake.infoHash.first, first == 0x11 || first == 0x22 else {
            return .refuse(.noSuchTorrent)
        }
        accepted = true
        var pieces = Bitfield(count: first == 0x11 ? 13 : 1000)
        for index in stride(from: 0, to: pieces.count, by: 3) { pieces[index] = true }
        let configuration = PeerConfiguration(
            infoHash: handshake.infoHash, localPeerID: PeerID(bytes: [UInt8](repeating: 1, count: 20))!,
            pieceLength: 16384, totalLength: Int64(pieces.count) * 16384 - 100, localPieces: pieces,
            remoteIPv4: [127, 0, 0, 1])
        let now = handler.channel?.eventLoop.now ?? .now()
        return .accept(PeerStateMachine(configuration: configuration, incoming: true, source: .incoming, now: now))
    }

    func peerChannel(_ handler: PeerChannelHandler, closedBeforeHandshake reason: DisconnectReason) {
        closedBeforeHandshake += 1
        lastReason = reason
        closed = true
    }

    func peerChannel(_ handler: PeerChannelHandler, didEmit action: PeerAction) {
        if closed { actionsAfterClose += 1 }
        if case .disconnect = action { closed = true }
    }
}
