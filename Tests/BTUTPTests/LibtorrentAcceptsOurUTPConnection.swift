import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTUTP

#if canImport(Glibc)
    import Glibc
#endif

/// A real libtorrent (Debian python3-libtorrent 2.0, uTP only: TCP, DHT, LSD, UPnP and NAT-PMP off) seeds a
/// torrent on 127.0.0.1 inside a private network namespace; our ``UTPSocketHandler`` dials it over uTP and
/// the two complete a BitTorrent handshake (BEP 3): libtorrent answers with the same info-hash.
struct LibtorrentAcceptsOurUTPConnection {
    /// The seeding script, written to a temporary file (a .py file in the test folder would be an
    /// unhandled resource for SwiftPM). Bounded: it exits by itself after `linger` seconds.
    static let script = """
        import os, sys, time
        import libtorrent as lt
        work, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        os.makedirs(work, exist_ok=True)
        path = os.path.join(work, 'payload.bin')
        with open(path, 'wb') as f:
            f.write(os.urandom(1 << 20))
        fs = lt.file_storage()
        lt.add_files(fs, path)
        t = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
        lt.set_piece_hashes(t, work)
        ti = lt.torrent_info(t.generate())
        ses = lt.session({
            'listen_interfaces': '127.0.0.1:%d' % port,
            'enable_outgoing_tcp': False, 'enable_incoming_tcp': False,
            'enable_outgoing_utp': True, 'enable_incoming_utp': True,
            'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        })
        h = ses.add_torrent({'ti': ti, 'save_path': work})
        deadline = time.time() + 20
        while not h.status().is_seeding and time.time() < deadline:
            time.sleep(0.05)
        with open(ready + '.tmp', 'w') as f:
            f.write(str(ti.info_hashes().v1))
        os.rename(ready + '.tmp', ready)
        time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 30)
        """

    final class Peer: UTPSocketDelegate, @unchecked Sendable {
        let handshake: ByteBuffer
        var received = ByteBuffer()
        var closed: UTPCloseReason?
        let answered: EventLoopPromise<Void>

        init(handshake: ByteBuffer, answered: EventLoopPromise<Void>) {
            self.handshake = handshake
            self.answered = answered
        }

        func utpConnected(_ connection: UTPConnectionID, incoming: Bool, socket: UTPSocketHandler) {
            socket.write(handshake, to: connection)
        }

        func utpReceived(_ bytes: ByteBuffer, on connection: UTPConnectionID, socket: UTPSocketHandler) {
            var bytes = bytes
            received.writeBuffer(&bytes)
            if received.readableBytes >= 68 { answered.succeed() }
        }

        func utpEndOfStream(on connection: UTPConnectionID, socket: UTPSocketHandler) {}

        func utpClosed(_ connection: UTPConnectionID, reason: UTPCloseReason, socket: UTPSocketHandler) {
            closed = reason
            answered.fail(Failure(description: "closed: \(reason)"))
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static var libtorrentInstalled: Bool {
        FileManager.default.fileExists(
            atPath: "/usr/lib/python3/dist-packages/libtorrent.cpython-311-x86_64-linux-gnu.so")
    }

    @Test(.enabled(if: libtorrentInstalled), .timeLimit(.minutes(1)))
    func bitTorrentHandshakeOverUTP() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "nbt-utp-lt-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let scriptPath = work.appendingPathComponent("seed.py").path
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let ready = work.appendingPathComponent("ready").path
        let port = 6881
        let command = [
            "/usr/bin/python3", scriptPath, work.appendingPathComponent("data").path, "\(port)", ready, "40",
        ]
        let sockets: [CInt]
        let pid: pid_t
        switch LoopbackNamespace.udpSockets(count: 1, starting: command) {
        case .success(let (fds, process)):
            sockets = fds
            pid = process!
        case .failure(let failure):
            Issue.record("no loopback namespace: \(failure)")
            return
        }
        defer {
            kill(pid, SIGKILL)
            var status: CInt = 0
            waitpid(pid, &status, 0)
        }
        // Wait (bounded) for the seed to be ready and learn its info-hash.
        var infoHashHex: String?
        for _ in 0..<300 {
            if let text = try? String(contentsOfFile: ready, encoding: .utf8) {
                infoHashHex = text
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let hex = try #require(infoHashHex, "libtorrent did not become ready")
        let infoHash: [UInt8] = stride(from: 0, to: 40, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
        var handshake = ByteBuffer()
        handshake.writeInteger(UInt8(19))
        handshake.writeString("BitTorrent protocol")
        handshake.writeBytes([0, 0, 0, 0, 0, 0x10, 0, 0])
        handshake.writeBytes(infoHash)
        handshake.writeString("-NB0100-utpinterop01")

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let peer = Peer(handshake: handshake, answered: loop.makePromise())
        let handler = try await loop.submit { NIOLoopBound(UTPSocketHandler(delegate: peer), eventLoop: loop) }.get()
        let channel = try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler.value) }
            }.withBoundSocket(sockets[0]).get()
        let seed = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        _ = try await loop.submit { handler.value.connect(to: seed) }.get()
        try await peer.answered.futureResult.get()
        let received = try await loop.submit { peer.received }.get()
        let bytes = Array(buffer: received)
        #expect(bytes[0] == 19 && Array(bytes[1..<20]) == Array("BitTorrent protocol".utf8))
        #expect(Array(bytes[28..<48]) == infoHash)
        try await channel.close()
        try await group.shutdownGracefully()
    }
}
