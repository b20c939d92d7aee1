import BTEngine
import BTMSE
import BTMetainfo
import BTWire
import Foundation
import NIOCore
import NIOEmbedded

/// The engine's own incoming path: the bytes an accepted connection sends, before and through the handshake,
/// as a real ``Client`` routes them (its listener's initializer: the IP filter and handshake limits of
/// `IncomingConnections.acceptChannel`, the MSE responder when the client's policy allows encryption, then the
/// peer driver and the routing by info-hash of `IncomingConnections.swift`), then whatever the routed
/// torrent's machine makes of the rest. No sockets: two clients (encryption `.preferred`, so the MSE responder
/// reads first, and `.none`) run on one `NIOAsyncTestingEventLoop` with a transport that hands each input's
/// `NIOAsyncTestingChannel` to their listener, and each seeds a small torrent.
///
/// The input's first byte chooses the client, whether a valid plaintext handshake header (for the seeded
/// torrent or an unknown one) goes in front, the largest write and the peer's address. Invariants: the engine
/// survives and still answers; each connection is reported disconnected exactly once once it is closed (and
/// after a virtual 31 s, a connection still waiting for its handshake is closed by the engine); a valid
/// handshake for the seeded torrent is never refused as `tooMany` (the handshake counters do not leak across
/// connections); no connection stays counted as a peer after it closed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let done = DispatchSemaphore(value: 0)
    Task {
        await Harness.shared.run(input)
        done.signal()
    }
    done.wait()
    return 0
}

/// The two clients, their torrent and what their buses reported, created on the first input.
private final class Harness: @unchecked Sendable {
    static let shared = Harness()

    struct Side {
        let client: Client
        let handle: TorrentHandle
        let transport: CapturingTransport
    }

    let loop = NIOAsyncTestingEventLoop()
    var sides: [Side] = []
    var infoHash: [UInt8] = []
    var nextPort = 1
    let lock = NSLock()
    var disconnects: [Int: [DisconnectReason]] = [:]
    var subscriptions: [EventBus.Subscription] = []

    func start() async {
        await loop.advanceTime(to: .uptimeNanoseconds(3_600_000_000_000))
        let folder = NSTemporaryDirectory() + "fuzz-engine-incoming-\(getpid())"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let payload = folder + "/payload.bin"
        var bytes = [UInt8](repeating: 0, count: 40_000)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 131 &+ 7) }
        _ = FileManager.default.createFile(atPath: payload, contents: Data(bytes))
        var creator = TorrentCreator(path: payload)
        creator.version = .v1
        creator.pieceLength = 16 * 1024
        creator.creationDate = nil
        let torrent = try! creator.create()
        infoHash = torrent.infoHashes.v1!
        for policy in [EncryptionPolicy.preferred, .none] {
            let transport = CapturingTransport()
            var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
            configuration.usesTrackers = false
            configuration.transport = transport
            configuration.encryption = policy
            // Thousands of inputs from four addresses within little virtual time: the accept rate per address
            // would refuse them all after the first few dozen (it has its own tests); this target fuzzes what
            // comes after it.
            configuration.incomingConnectionRate = nil
            let client = try! await Client(configuration: configuration, on: loop)
            let handle = try! await client.addTorrent(torrent, downloadDirectory: folder)
            subscriptions.append(
                client.events.on(.peerDisconnect) { [self] event in
                    guard case .peerDisconnect(let info, let reason) = event, info.isIncoming else { return }
                    lock.withLock { disconnects[Int(info.endpoint.port), default: []].append(reason) }
                })
            sides.append(Side(client: client, handle: handle, transport: transport))
        }
        // The torrents are checked on storage threads in real time: wait until both seed.
        for _ in 0..<5000 {
            await settle()
            var seeding = true
            for side in sides where await side.client.status(of: side.handle)?.state != .seeding { seeding = false }
            if seeding { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
        preconditionFailure("the harness's torrents never started seeding")
    }

    func settle() async {
        for _ in 0..<3 {
            await loop.run()
            try? await Task.sleep(for: .microseconds(100))
        }
    }

    func run(_ input: [UInt8]) async {
        if sides.isEmpty { await start() }
        let mode = input[0]
        let side = sides[Int(mode & 1)]
        var stream: [UInt8] = []
        let header = (mode >> 1) % 3  // 0: none, 1: the seeded torrent's, 2: an unknown torrent's
        if header != 0 {
            let hash = header == 1 ? infoHash : [UInt8](repeating: 0x33, count: 20)
            stream += [19] + Array("BitTorrent protocol".utf8) + [0, 0, 0, 0, 0, 0x10, 0, 0x05] + hash
            stream += Array("-FZ0001-".utf8) + [UInt8](repeating: mode, count: 12)
        }
        stream += input.dropFirst()

        // A fresh remote port per input names its events; four addresses share the per-address limits.
        nextPort = nextPort % 60_000 + 1
        let port = nextPort
        let channel = NIOAsyncTestingChannel(loop: loop)
        // A testing channel's `connect(to:)` sets its remote address: the peer's, as an accepted socket has.
        let remote = try! SocketAddress(ipAddress: "127.0.9.\(1 + Int(mode >> 6))", port: port)
        channel.remoteAddress = remote
        guard let accept = side.transport.accept else { preconditionFailure("the client never listened") }
        do {
            try await loop.flatSubmit { accept(channel) }.get()
            try await channel.connect(to: remote).get()
        } catch {
            _ = try? await channel.close().get()
            await settle()
            return
        }
        var offset = 0
        var state = UInt64(input.count) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(mode)
        let largest = [1, 7, 68, 300, 5000][Int(mode >> 3) % 5]
        while offset < stream.count && channel.isActive {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let chunk = min(stream.count - offset, 1 + Int((state >> 33) % UInt64(largest)))
            _ = try? await channel.writeInbound(ByteBuffer(bytes: stream[offset..<offset + chunk]))
            offset += chunk
            await loop.run()
            await drain(channel)
        }
        await settle()
        await drain(channel)
        let reasons = lock.withLock { disconnects[port] ?? [] }
        if header == 1 { precondition(!reasons.contains(.tooMany), "a valid handshake refused as tooMany") }
        precondition(reasons.count <= 1, "disconnected \(reasons.count) times: \(reasons)")
        if channel.isActive && reasons.isEmpty {
            // Still open: either waiting for a handshake (the engine's timeout must end it) or routed.
            await loop.advanceTime(by: .seconds(31))
            await settle()
            await drain(channel)
        }
        _ = try? await channel.close().get()
        await settle()
        await drain(channel)
        let after = lock.withLock { disconnects.removeValue(forKey: port) ?? [] }
        precondition(
            after.count == 1,
            "a closed connection was reported \(after.count) times: \(after); others: \(lock.withLock { disconnects })")
        let status = await side.client.status(of: side.handle)
        precondition(status != nil, "the torrent is gone")
        precondition(status!.peers == 0, "\(status!.peers) peers counted after every connection closed")
    }

    /// Drops what the engine wrote to the peer (it would pile up in the channel otherwise).
    func drain(_ channel: NIOAsyncTestingChannel) async {
        while let written = try? await channel.readOutbound(as: ByteBuffer.self), written.readableBytes >= 0 {}
        while let written = try? await channel.readOutbound(as: IOData.self), written.readableBytes >= 0 {}
    }
}

/// A transport that only listens: it keeps the listener's initializer, which the harness runs on each input's
/// channel as an accepted connection's.
private final class CapturingTransport: PeerTransport, @unchecked Sendable {
    var accept: (@Sendable (any Channel) -> EventLoopFuture<Void>)?

    func listen(
        host: String, port: Int, group: any EventLoopGroup,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any PeerListener {
        accept = initializer
        return Listener()
    }

    func connect(
        host: String, port: Int, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        loop.makeFailedFuture(ChannelError.connectTimeout(timeout))
    }

    private struct Listener: PeerListener {
        var port: Int { 6881 }
        func close() {}
    }
}
