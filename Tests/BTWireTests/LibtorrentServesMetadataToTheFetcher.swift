import BTBencode
import BTMetainfo
import Foundation
import NIOCore
import Testing

@testable import BTWire

/// Interop: a real libtorrent (python3-libtorrent) seeds a torrent whose info dictionary spans two 16 KiB
/// metadata pieces on a loopback address; a raw TCP harness (BEP 3 handshake with the BEP 10 bit, extension
/// handshake advertising `ut_metadata`, then whatever ``MetadataFetch`` asks) fetches the dictionary knowing
/// only the info-hash, and the result is checked against it and parsed into the seeder's torrent. Skipped
/// when python3-libtorrent is missing, unless NBT_REQUIRE_INTEROP=1. The seeder runs under `timeout` and is
/// killed by PID at the end.
@Suite(.serialized) struct LibtorrentServesMetadataToTheFetcher {
    struct Outcome: Sendable {
        var infoDictionary: [UInt8]?
        var requestsSent = 0
        var failure: String?
    }

    @Test func metadataFetchedFromLibtorrentVerifiesAgainstTheInfoHash() async throws {
        let python = RealClientsServeAPiece.python
        guard RealClientsServeAPiece.available([python, "-c", "import libtorrent"]) else { return }
        let dir = RealClientsServeAPiece.workdir("metadata")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ip = "127.0.43.\(Int.random(in: 2...250))"
        let pipe = Pipe()
        // 24 MiB in 16 KiB pieces: 1,536 SHA-1 hashes, an info dictionary of two metadata pieces.
        let seeder = try RealClientsServeAPiece.start(
            [
                python, RealClientsServeAPiece.fixtures.appendingPathComponent("interop_seed.py").path, "libtorrent",
                ip, dir.path, "\(24 << 20)", "16384",
            ], stdout: pipe, log: nil)
        defer { RealClientsServeAPiece.stop(seeder) }
        let facts = try JSONDecoder().decode(
            RealClientsServeAPiece.Facts.self, from: Data(RealClientsServeAPiece.readLine(pipe).utf8))
        guard facts.error == nil, let port = facts.port else {
            Issue.record("libtorrent seeder failed: \(facts.error ?? "no port")")
            return
        }
        let infoHash = NetBitTorrentHex.decode(facts.info_hash)!
        let outcome = try await onOwnThread { Self.fetch(host: ip, port: port, infoHash: infoHash) }
        if let failure = outcome.failure { Issue.record(Comment(rawValue: failure)) }
        let info = try #require(outcome.infoDictionary)
        #expect(outcome.requestsSent >= 2)
        let magnet = MagnetLink(infoHashes: InfoHashes(v1: infoHash, v2: nil))
        let torrent = try Torrent(infoDictionary: info, magnet: magnet)
        #expect(torrent.infoHashes.v1 == infoHash)
        #expect(torrent.pieceCount == facts.pieces && torrent.totalSize == Int64(facts.total))
        // The .torrent we would save is libtorrent's info dictionary, byte for byte.
        let saved = try Torrent(bytes: Data(contentsOf: dir.appendingPathComponent("seed.torrent")).map { $0 })
        #expect(saved.infoBytes == info)
    }

    /// Blocking: connects, handshakes and runs the fetcher until it completes or 60 s pass.
    static func fetch(host: String, port: Int, infoHash: [UInt8]) -> Outcome {
        var outcome = Outcome()
        let deadline = Date().addingTimeInterval(60)
        var socket: Socket?
        while socket == nil && Date() < deadline {
            socket = try? Socket(host: host, port: port)
            if socket == nil { usleep(200_000) }
        }
        guard let socket else { return Outcome(failure: "could not connect to \(host):\(port)") }
        defer { socket.close() }

        let ourMetadataID: UInt8 = 3
        var reserved = ReservedBits()
        reserved[.extensionProtocol] = true
        socket.send(Handshake(reserved: reserved, infoHash: infoHash, peerID: .generate()).encoded)
        let extensionHandshake = ExtensionHandshake(messages: [ExtensionHandshake.Name.metadata: ourMetadataID])
        func sendExtended(_ id: UInt8, _ payload: [UInt8]) {
            var buffer = ByteBuffer()
            PeerMessage.extended(ExtendedMessage(id: id, payload: ByteBuffer(bytes: payload))).encode(into: &buffer)
            socket.send(Array(buffer.readableBytesView))
        }
        sendExtended(0, extensionHandshake.encoded())

        var fetch = MetadataFetch<String>(infoHashes: InfoHashes(v1: infoHash, v2: nil))
        var theirMetadataID: UInt8?
        var pending: [UInt8] = []
        var handshakeRead = false
        var decoder = PeerMessageDecoder()
        func perform(_ actions: [MetadataFetch<String>.Action]) {
            for action in actions {
                switch action {
                case .send(let message, _):
                    guard let id = theirMetadataID else { continue }
                    sendExtended(id, message.encoded())
                    outcome.requestsSent += 1
                case .completed(let bytes):
                    outcome.infoDictionary = bytes
                case .blame(_, let reason):
                    outcome.failure = "libtorrent was blamed: \(reason)"
                case .hashMismatch:
                    outcome.failure = "libtorrent's metadata did not verify"
                }
            }
        }
        while Date() < deadline && outcome.infoDictionary == nil && outcome.failure == nil {
            guard let bytes = socket.receive() else {
                return Outcome(failure: "libtorrent closed the connection")
            }
            let now = NIODeadline.now()
            if !handshakeRead {
                pending += bytes
                guard pending.count >= 68 else { continue }
                do {
                    let theirs = try Handshake(decoding: pending[0..<68])
                    guard theirs.infoHash == infoHash else { return Outcome(failure: "wrong info-hash") }
                } catch {
                    return Outcome(failure: "bad handshake: \(error)")
                }
                handshakeRead = true
                decoder.append(Array(pending[68...]))
            } else {
                decoder.append(bytes)
            }
            do {
                while let message = try decoder.next() {
                    guard case .extended(let extended) = message else { continue }
                    let payload = Array(extended.payload.readableBytesView)
                    if extended.id == 0 {
                        let theirs = try ExtensionHandshake(decoding: payload)
                        theirMetadataID = theirs.messages[ExtensionHandshake.Name.metadata]
                        guard theirMetadataID != nil, theirMetadataID != 0 else {
                            return Outcome(failure: "libtorrent does not offer ut_metadata")
                        }
                        perform(fetch.addPeer("libtorrent", metadataSize: theirs.metadataSize, now: now))
                    } else if extended.id == ourMetadataID {
                        perform(fetch.received(try MetadataMessage(decoding: payload), from: "libtorrent", now: now))
                    }
                }
            } catch {
                return Outcome(failure: "undecodable message from libtorrent: \(error)")
            }
            perform(fetch.tick(now: now))
        }
        if outcome.infoDictionary == nil && outcome.failure == nil { outcome.failure = "timed out" }
        return outcome
    }
}
