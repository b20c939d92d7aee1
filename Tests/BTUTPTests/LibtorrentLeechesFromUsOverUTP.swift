import Foundation
import NBTTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import BTUTP

#if canImport(Glibc)
    import Glibc
#endif

/// A real libtorrent (uTP only) dials our ``UTPSocketHandler`` inside a private network namespace and
/// downloads a 1 MiB torrent from it; libtorrent checks every piece's SHA-1, so its "finished" proves the
/// bytes crossed intact. This exercises the acceptor side: libtorrent's SYN, our reply, its data first.
struct LibtorrentLeechesFromUsOverUTP {
    /// A minimal seed: answers the handshake with its own, a full bitfield and `unchoke`, then serves every
    /// `request` from the file (BEP 3 messages written by hand).
    final class Seed: UTPSocketDelegate, @unchecked Sendable {
        let infoHash: [UInt8]
        let file: [UInt8]
        var buffer = ByteBuffer()
        var handshakeDone = false
        var blocksServed = 0
        var accepted = 0
        var closed: [UTPCloseReason] = []

        init(infoHash: [UInt8], file: [UInt8]) {
            self.infoHash = infoHash
            self.file = file
        }

        func utpConnected(_ connection: UTPConnectionID, incoming: Bool, socket: UTPSocketHandler) {
            if incoming { accepted += 1 }
        }

        func utpReceived(_ bytes: ByteBuffer, on connection: UTPConnectionID, socket: UTPSocketHandler) {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
            if !handshakeDone {
                guard let handshake = buffer.readBytes(length: 68) else { return }
                guard Array(handshake[28..<48]) == infoHash else {
                    socket.abort(connection)
                    return
                }
                handshakeDone = true
                var reply = ByteBuffer()
                reply.writeInteger(UInt8(19))
                reply.writeString("BitTorrent protocol")
                reply.writeBytes([0, 0, 0, 0, 0, 0, 0, 0])
                reply.writeBytes(infoHash)
                reply.writeString("-NB0100-utpseed00001")
                let pieces = file.count / 16384
                reply.writeInteger(UInt32(1 + (pieces + 7) / 8))
                reply.writeInteger(UInt8(5))
                reply.writeBytes([UInt8](repeating: 0xff, count: pieces / 8))
                reply.writeBytes([0, 0, 0, 1, 1])  // unchoke
                socket.write(reply, to: connection)
            }
            while let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
                buffer.readableBytes >= 4 + Int(length)
            {
                buffer.moveReaderIndex(forwardBy: 4)
                guard length > 0, var message = buffer.readSlice(length: Int(length)) else { continue }
                guard message.readInteger(as: UInt8.self) == 6, length == 13 else { continue }
                let piece = Int(message.readInteger(as: UInt32.self)!)
                let offset = Int(message.readInteger(as: UInt32.self)!)
                let size = Int(message.readInteger(as: UInt32.self)!)
                let start = piece * 16384 + offset
                guard size <= 16384, start + size <= file.count else { continue }
                var answer = ByteBuffer()
                answer.writeInteger(UInt32(9 + size))
                answer.writeInteger(UInt8(7))
                answer.writeInteger(UInt32(piece))
                answer.writeInteger(UInt32(offset))
                answer.writeBytes(file[start..<(start + size)])
                socket.write(answer, to: connection)
                blocksServed += 1
            }
        }

        func utpEndOfStream(on connection: UTPConnectionID, socket: UTPSocketHandler) { socket.close(connection) }

        func utpClosed(_ connection: UTPConnectionID, reason: UTPCloseReason, socket: UTPSocketHandler) {
            closed.append(reason)
        }
    }

    @Test(.enabled(if: LibtorrentSeedsUsOverUTP.libtorrentInstalled), .timeLimit(.minutes(1)))
    func libtorrentDownloadsAMebibyteFromUs() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "nbt-utp-lt-leech-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let scriptPath = work.appendingPathComponent("peer.py").path
        try LibtorrentSeedsUsOverUTP.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let ready = work.appendingPathComponent("ready").path
        let ourPort = 6882
        let command = [
            "/usr/bin/python3", scriptPath, work.appendingPathComponent("data").path, "6881", ready, "45",
            "leech:\(ourPort)",
        ]
        let sockets: [CInt]
        let pid: pid_t
        switch LoopbackNamespace.udpSockets(count: 1, port: UInt16(ourPort), starting: command) {
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
        let file = try [UInt8](Data(contentsOf: work.appendingPathComponent("data/payload.bin")))

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let seed = Seed(infoHash: infoHash, file: file)
        let handler = try await loop.submit { NIOLoopBound(UTPSocketHandler(delegate: seed), eventLoop: loop) }.get()
        let channel = try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler.value) }
            }.withBoundSocket(sockets[0]).get()
        var finished = false
        for _ in 0..<400 {
            if FileManager.default.fileExists(atPath: ready + ".done") {
                finished = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let (accepted, served, closed, handshakeDone, left) = try await loop.submit {
            (seed.accepted, seed.blocksServed, seed.closed, seed.handshakeDone, seed.buffer.readableBytes)
        }.get()
        #expect(
            finished,
            "libtorrent did not finish: \(accepted) connections accepted, \(served) blocks served, closed \(closed), handshake \(handshakeDone), \(left) bytes unparsed"
        )
        #expect(accepted >= 1 && served >= 64)
        let downloaded = try [UInt8](Data(contentsOf: work.appendingPathComponent("data/leech/payload.bin")))
        #expect(downloaded == file)
        try await channel.close()
        try await group.shutdownGracefully()
    }
}
