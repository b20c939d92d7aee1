import Foundation
import NBTTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import BTUTP

#if canImport(Glibc)
    import Glibc
#endif

/// A real libtorrent (Debian python3-libtorrent 2.0, uTP only: TCP, DHT, LSD, UPnP and NAT-PMP off) seeds a
/// a 1 MiB torrent on 127.0.0.1 inside a private network namespace; our ``UTPSocketHandler`` dials it over
/// uTP, completes a BitTorrent handshake (libtorrent answers with the same info-hash) and downloads every
/// block, which must equal the file libtorrent seeds.
struct LibtorrentSeedsUsOverUTP {
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
            # Plaintext: libtorrent dials with an MSE handshake by default, which is not this module's subject.
            'out_enc_policy': 2, 'in_enc_policy': 2,
        })
        mode = sys.argv[5] if len(sys.argv) > 5 else 'seed'
        if mode == 'seed':
            h = ses.add_torrent({'ti': ti, 'save_path': work})
            deadline = time.time() + 20
            while not h.status().is_seeding and time.time() < deadline:
                time.sleep(0.05)
        with open(ready + '.tmp', 'w') as f:
            f.write(str(ti.info_hashes().v1))
        os.rename(ready + '.tmp', ready)
        if mode.startswith('leech:'):
            # Download from the peer at 127.0.0.1:<port> (ours), then report it with a 'done' file.
            h = ses.add_torrent({'ti': ti, 'save_path': os.path.join(work, 'leech')})
            deadline = time.time() + 40
            next_connect = 0
            while time.time() < deadline:
                if h.status().is_seeding:
                    with open(ready + '.done', 'w') as f:
                        f.write('done')
                    break
                if time.time() >= next_connect:
                    h.connect_peer(('127.0.0.1', int(mode.split(':')[1])))
                    next_connect = time.time() + 5
                time.sleep(0.05)
        time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 30)
        """

    /// A minimal leecher on the event loop: handshake, `interested`, and once unchoked, requests for every
    /// 16 KiB block of the 1 MiB file at once (BEP 3 messages written by hand: this test is about the
    /// transport, not the wire module). `done` succeeds when every block arrived.
    final class Peer: UTPSocketDelegate, @unchecked Sendable {
        let handshake: ByteBuffer
        let fileSize: Int
        var handshakeReceived: [UInt8] = []
        var buffer = ByteBuffer()
        var file: [UInt8]
        var blocksReceived = 0
        var requested = false
        var closed: UTPCloseReason?
        let done: EventLoopPromise<Void>

        init(handshake: ByteBuffer, fileSize: Int, done: EventLoopPromise<Void>) {
            self.handshake = handshake
            self.fileSize = fileSize
            self.file = [UInt8](repeating: 0, count: fileSize)
            self.done = done
        }

        func utpConnected(_ connection: UTPConnectionID, incoming: Bool, socket: UTPSocketHandler) {
            var bytes = handshake
            bytes.writeBytes([0, 0, 0, 1, 2])  // interested
            socket.write(bytes, to: connection)
        }

        func utpReceived(_ bytes: ByteBuffer, on connection: UTPConnectionID, socket: UTPSocketHandler) {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
            if handshakeReceived.isEmpty {
                guard let first = buffer.readBytes(length: 68) else { return }
                handshakeReceived = first
            }
            while let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
                buffer.readableBytes >= 4 + Int(length)
            {
                buffer.moveReaderIndex(forwardBy: 4)
                guard length > 0, var message = buffer.readSlice(length: Int(length)) else { continue }
                let id = message.readInteger(as: UInt8.self)!
                if id == 1, !requested {  // unchoke: request every block
                    requested = true
                    var requests = ByteBuffer()
                    for piece in 0..<(fileSize / 16384) {
                        requests.writeInteger(UInt32(13))
                        requests.writeInteger(UInt8(6))
                        requests.writeInteger(UInt32(piece))
                        requests.writeInteger(UInt32(0))
                        requests.writeInteger(UInt32(16384))
                    }
                    socket.write(requests, to: connection)
                } else if id == 7 {  // piece
                    let piece = Int(message.readInteger(as: UInt32.self)!)
                    let offset = Int(message.readInteger(as: UInt32.self)!)
                    let start = piece * 16384 + offset
                    let block = message.readBytes(length: message.readableBytes)!
                    guard start + block.count <= fileSize else { continue }
                    file.replaceSubrange(start..<(start + block.count), with: block)
                    blocksReceived += 1
                    if blocksReceived == fileSize / 16384 {
                        done.succeed()
                        socket.close(connection)
                    }
                }
            }
        }

        func utpEndOfStream(on connection: UTPConnectionID, socket: UTPSocketHandler) {}

        func utpClosed(_ connection: UTPConnectionID, reason: UTPCloseReason, socket: UTPSocketHandler) {
            closed = reason
            done.fail(Failure(description: "closed: \(reason) after \(blocksReceived) blocks"))
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
    func downloadsAMebibyteFromLibtorrentOverUTP() async throws {
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
        let peer = Peer(handshake: handshake, fileSize: 1 << 20, done: loop.makePromise())
        let handler = try await loop.submit { NIOLoopBound(UTPSocketHandler(delegate: peer), eventLoop: loop) }.get()
        let channel = try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler.value) }
            }.withBoundSocket(sockets[0]).get()
        let seed = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let started = NIODeadline.now()
        _ = try await loop.submit { handler.value.connect(to: seed) }.get()
        try await peer.done.futureResult.get()
        let elapsed = NIODeadline.now() - started
        let (answer, file) = try await loop.submit { (peer.handshakeReceived, peer.file) }.get()
        #expect(answer[0] == 19 && Array(answer[1..<20]) == Array("BitTorrent protocol".utf8))
        #expect(Array(answer[28..<48]) == infoHash)
        let expected = try [UInt8](Data(contentsOf: work.appendingPathComponent("data/payload.bin")))
        #expect(file == expected)
        print("uTP from libtorrent: 1 MiB in \(elapsed.nanoseconds / 1_000_000) ms")
        try await channel.close()
        try await group.shutdownGracefully()
    }
}
