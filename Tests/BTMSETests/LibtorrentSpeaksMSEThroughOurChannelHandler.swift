import BTMetainfo
import BTWire
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import BTMSE

/// Interop through the SwiftNIO driver: BTWire's real `PeerChannelHandler` with ``MSEChannelHandler``
/// inserted in front of it, exactly as the engine would, against a live libtorrent 2.0 with encryption forced
/// (pe_forced both ways, pe_rc4 only; `Fixtures/libtorrent_mse_peer.py`) over loopback TCP.
/// - We dial its seed with ``EncryptionPolicy/required``: the BitTorrent handshakes and the seed's bitfield
///   cross through RC4, our wire's automatic `interested` is answered with an unchoke.
/// - It dials our responder: its handshake comes out of the IA, our wire's handshake and full bitfield go
///   back through RC4, and it answers `interested`.
/// No plaintext `BitTorrent protocol` marker appears in the raw bytes either way. Skipped when libtorrent is
/// missing, unless NBT_REQUIRE_INTEROP=1.
@Suite(.serialized) struct LibtorrentSpeaksMSEThroughOurChannelHandler {
    typealias Live = LibtorrentSpeaksMSEWithUs

    /// Records what the wire above MSE did (its actions, on the event loop) and routes an incoming
    /// handshake to the torrent's machine.
    final class WireRecorder: PeerChannelDelegate, Sendable {
        struct Facts: Sendable {
            var remoteHandshake: Handshake?
            var peerBitfield: Bitfield?
            var unchoked = false
            var interested = false
            var disconnect: String?
        }
        let facts = Mutex(Facts())
        let incomingConfiguration = Mutex<PeerConfiguration?>(nil)

        func peerChannel(_ handler: PeerChannelHandler, route handshake: Handshake) -> PeerChannelRoute {
            guard let configuration = incomingConfiguration.withLock({ $0 }),
                handshake.infoHash == configuration.infoHash
            else { return .refuse(.noSuchTorrent) }
            return .accept(
                PeerStateMachine(configuration: configuration, incoming: true, source: .incoming, now: .now()))
        }

        func peerChannel(_ handler: PeerChannelHandler, didEmit action: PeerAction) {
            facts.withLock { facts in
                switch action {
                case .event(.packet(let packet)) where packet.direction == .incoming:
                    if case .handshake(let handshake) = packet.packet { facts.remoteHandshake = handshake }
                case .peerHas(.pieces(let bitfield)): facts.peerBitfield = bitfield
                case .peerChoked(false): facts.unchoked = true
                case .peerInterested(true): facts.interested = true
                case .disconnect(let reason, let detail): facts.disconnect = "\(reason) \(detail)"
                default: break
                }
            }
        }
    }

    static func configuration(infoHash: [UInt8], pieces: Int, seeding: Bool) -> PeerConfiguration {
        var rng = MSETestSupport.SeededGenerator(seed: 0x6e6274)
        return PeerConfiguration(
            infoHash: infoHash, localPeerID: PeerID.generate(prefix: Array("-NB0200-".utf8), using: &rng),
            pieceLength: 65536, totalLength: 300_000, localPieces: Bitfield(count: pieces, allSet: seeding),
            // No fast extension: the seed then announces its pieces with a real `bitfield`, not `have all`.
            localReserved: ReservedBits())
    }

    @Test func ourInitiatorHandlerAndWireDownloadTheSeedsBitfield() async throws {
        guard Live.libtorrentAvailable else {
            if Live.required { Issue.record("python3-libtorrent missing") }
            return
        }
        let dir = Live.workdir("handler-seed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ip = "127.0.48.\(Int.random(in: 2...250))"
        let pipe = Pipe()
        let peer = try Live.start(
            [Live.python, Live.fixtures.appendingPathComponent("libtorrent_mse_peer.py").path, "seed", ip, dir.path],
            stdout: pipe)
        defer { Live.stop(peer) }
        let line = try await onOwnThread { Live.readLine(pipe) }
        let facts = try JSONDecoder().decode(Live.Facts.self, from: Data(line.utf8))
        guard facts.error == nil, let port = facts.port, let hex = facts.info_hash, let pieces = facts.pieces else {
            Issue.record("libtorrent failed: \(facts.error ?? "no port")")
            return
        }
        let infoHash = MSETestSupport.bytes(hex: hex)
        let group = MultiThreadedEventLoopGroup.singleton
        let record = ChannelRecord()
        let recorder = WireRecorder()
        let configuration = Self.configuration(infoHash: infoHash, pieces: pieces, seeding: false)
        var channel: (any Channel)?
        let deadline = ContinuousClock.now + .seconds(30)
        while channel == nil && ContinuousClock.now < deadline {
            channel = try? await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let machine = PeerStateMachine(
                            configuration: configuration, incoming: false, source: .user, now: .now())
                        try channel.pipeline.syncOperations.addHandlers([
                            RawTap(record),
                            MSEChannelHandler.initiator(skey: infoHash, policy: .required, onResult: record.report),
                            PeerChannelHandler(machine: machine, delegate: recorder),
                        ])
                    }
                }
                .connect(host: ip, port: port).get()
            if channel == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard let channel else {
            Issue.record("could not connect to libtorrent at \(ip):\(port)")
            return
        }
        let done = await eventually(30) { recorder.facts.withLock { $0.unchoked } }
        let wire = recorder.facts.withLock { $0 }
        let raw = record.snapshot
        #expect(done, "disconnect: \(wire.disconnect ?? "none")")
        #expect(try raw.result?.get() == .rc4(skey: infoHash))
        #expect(wire.remoteHandshake?.infoHash == infoHash)
        #expect(wire.peerBitfield == Bitfield(count: pieces, allSet: true))
        #expect(!containsPlaintextMarker(raw.rawIn) && !containsPlaintextMarker(raw.rawOut))
        try? await channel.close()
    }

    @Test func libtorrentDialsOurResponderHandlerAndWantsOurBitfield() async throws {
        guard Live.libtorrentAvailable else {
            if Live.required { Issue.record("python3-libtorrent missing") }
            return
        }
        let dir = Live.workdir("handler-dial")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ourIP = "127.0.49.\(Int.random(in: 2...250))"
        let peerIP = "127.0.50.\(Int.random(in: 2...250))"
        let group = MultiThreadedEventLoopGroup.singleton
        let record = ChannelRecord()
        let recorder = WireRecorder()
        let served = Mutex(SKEYIndex())
        // Accepting waits (autoRead off) until the torrent is known: the connection waits in the backlog.
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        RawTap(record),
                        MSEChannelHandler.responder(
                            policy: .required, index: { served.withLock { $0 } }, onResult: record.report),
                        PeerChannelHandler(machine: nil, delegate: recorder),
                    ])
                }
            }
            .bind(host: ourIP, port: 0).get()
        let pipe = Pipe()
        let peer = try Live.start(
            [
                Live.python, Live.fixtures.appendingPathComponent("libtorrent_mse_peer.py").path, "dial", peerIP,
                dir.path, ourIP, "\(server.localAddress!.port!)",
            ],
            stdout: pipe)
        defer { Live.stop(peer) }
        let line = try await onOwnThread { Live.readLine(pipe) }
        let facts = try JSONDecoder().decode(Live.Facts.self, from: Data(line.utf8))
        guard facts.error == nil, let hex = facts.info_hash, let pieces = facts.pieces else {
            Issue.record("libtorrent failed: \(facts.error ?? "no facts")")
            try await server.close()
            return
        }
        let infoHash = MSETestSupport.bytes(hex: hex)
        served.withLock { $0.insert(infoHash) }
        recorder.incomingConfiguration.withLock {
            $0 = Self.configuration(infoHash: infoHash, pieces: pieces, seeding: true)
        }
        server.read()
        let done = await eventually(30) { recorder.facts.withLock { $0.interested } }
        let wire = recorder.facts.withLock { $0 }
        let raw = record.snapshot
        #expect(done, "disconnect: \(wire.disconnect ?? "none")")
        #expect(try raw.result?.get() == .rc4(skey: infoHash))
        #expect(wire.remoteHandshake?.infoHash == infoHash)
        #expect(!containsPlaintextMarker(raw.rawIn) && !containsPlaintextMarker(raw.rawOut))
        try await server.close()
    }
}
