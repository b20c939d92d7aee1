import BTBencode
import BTMetainfo
import Foundation
import NIOCore
import Testing

@testable import BTWire

/// Interop: a real libtorrent (python3-libtorrent) seeds a torrent whose info dictionary spans two 16 KiB
/// metadata pieces on a loopback address; a raw TCP harness (BEP 3 handshake with the BEP 10 bit, extension
/// handshake advertising `ut_metadata`, then whatever ``MetadataFetch`` asks) fetches the dictionary knowing
/// only the info-hash, and the result is checked against it and parsed into the seeder's torrent. A second
/// case seeds a hybrid torrent: the dictionary must match both info-hashes, and then ``PieceLayerFetch``
/// recovers the piece layer from libtorrent with BEP 52 hash requests (v2 bit set in our handshake), equal to
/// the one in libtorrent's .torrent. Skipped when python3-libtorrent is missing, unless
/// NBT_REQUIRE_INTEROP=1. Seeders run under `timeout` and are killed by PID at the end.
@Suite(.serialized) struct LibtorrentServesMetadataToTheFetcher {
    struct Outcome: Sendable {
        var infoDictionary: [UInt8]?
        var requestsSent = 0
        var layers: [[UInt8]: [UInt8]]?
        var hashRequestsSent = 0
        var failure: String?
    }

    struct HybridFacts: Decodable {
        let v1: String
        let v2: String
        let pieces: Int
        let port: Int?
        let error: String?
    }

    @Test func hybridMetadataAndPieceLayersFetchedFromLibtorrentVerify() async throws {
        let python = RealClientsServeAPiece.python
        guard RealClientsServeAPiece.available([python, "-c", "import libtorrent"]) else { return }
        let dir = RealClientsServeAPiece.workdir("hybrid-metadata")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ip = "127.0.44.\(Int.random(in: 2...250))"
        let pipe = Pipe()
        // 6 MiB in 32 KiB pieces: a piece layer of 192 hashes at tree layer 1, 256 wide, asked for in runs of 64
        // (see `fetch`), so each answer carries 2 uncle hashes up to the pieces root.
        let seeder = try RealClientsServeAPiece.start(
            [
                python, RealClientsServeAPiece.fixtures.appendingPathComponent("interop_seed_hybrid.py").path, ip,
                dir.path, "\(6 << 20)", "32768",
            ], stdout: pipe, log: nil)
        defer { RealClientsServeAPiece.stop(seeder) }
        let facts = try JSONDecoder().decode(HybridFacts.self, from: Data(RealClientsServeAPiece.readLine(pipe).utf8))
        guard facts.error == nil, let port = facts.port else {
            Issue.record("libtorrent seeder failed: \(facts.error ?? "no port")")
            return
        }
        let hashes = InfoHashes(v1: NetBitTorrentHex.decode(facts.v1)!, v2: NetBitTorrentHex.decode(facts.v2)!)
        let outcome = try await onOwnThread {
            Self.fetchRedialling(host: ip, port: port, infoHashes: hashes, fetchLayers: true)
        }
        if let failure = outcome.failure { Issue.record(Comment(rawValue: failure)) }
        let info = try #require(outcome.infoDictionary)
        let layers = try #require(outcome.layers)
        let saved = try Torrent(bytes: Data(contentsOf: dir.appendingPathComponent("seed.torrent")).map { $0 })
        #expect(saved.infoBytes == info && saved.infoHashes == hashes)
        #expect(layers == saved.pieceLayers && !layers.isEmpty)
        #expect(outcome.hashRequestsSent == 3)
        let complete = try Torrent(
            infoDictionary: info, magnet: MagnetLink(infoHashes: hashes), pieceLayers: layers)
        #expect(try Torrent(bytes: complete.encoded()).pieceLayers == saved.pieceLayers)
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
        let outcome = try await onOwnThread {
            Self.fetchRedialling(
                host: ip, port: port, infoHashes: InfoHashes(v1: infoHash, v2: nil), fetchLayers: false)
        }
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

    /// Blocking: connects, handshakes and runs the metadata fetcher (then, with `fetchLayers`, the piece-layer
    /// fetcher) until it completes or 60 s pass.
    /// ``fetch(host:port:infoHashes:fetchLayers:)``, dialled again (up to three times, 200 ms apart) when
    /// libtorrent closes the connection, as a real client redials. Seen about once in four runs on a loaded
    /// machine, right after the seeder said it was seeding (stop 15); a connection closed on all three tries,
    /// and every other failure, still fails the test.
    static func fetchRedialling(host: String, port: Int, infoHashes: InfoHashes, fetchLayers: Bool) -> Outcome {
        var outcome = Outcome()
        for attempt in 0..<3 {
            if attempt > 0 { Thread.sleep(forTimeInterval: 0.2) }
            outcome = fetch(host: host, port: port, infoHashes: infoHashes, fetchLayers: fetchLayers)
            guard outcome.failure == "libtorrent closed the connection" else { break }
        }
        return outcome
    }

    static func fetch(host: String, port: Int, infoHashes: InfoHashes, fetchLayers: Bool) -> Outcome {
        let infoHash = infoHashes.wire
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
        reserved[.v2Upgrade] = fetchLayers
        socket.send(Handshake(reserved: reserved, infoHash: infoHash, peerID: .generate()).encoded)
        let extensionHandshake = ExtensionHandshake(messages: [ExtensionHandshake.Name.metadata: ourMetadataID])
        func sendExtended(_ id: UInt8, _ payload: [UInt8]) {
            var buffer = ByteBuffer()
            PeerMessage.extended(ExtendedMessage(id: id, payload: ByteBuffer(bytes: payload))).encode(into: &buffer)
            socket.send(Array(buffer.readableBytesView))
        }
        sendExtended(0, extensionHandshake.encoded())

        var fetch = MetadataFetch<String>(infoHashes: infoHashes)
        var layerFetch: PieceLayerFetch<String>?
        func send(_ message: PeerMessage) {
            var buffer = ByteBuffer()
            message.encode(into: &buffer)
            socket.send(Array(buffer.readableBytesView))
        }
        func performLayers(_ actions: [PieceLayerFetch<String>.Action]) {
            for action in actions {
                switch action {
                case .send(let request, _):
                    send(.hashRequest(request))
                    outcome.hashRequestsSent += 1
                case .blame:
                    outcome.failure = "libtorrent's hashes did not prove up to the pieces root"
                case .layerVerified:
                    break
                }
            }
            if let layerFetch, layerFetch.isComplete { outcome.layers = layerFetch.layers }
        }
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
                    guard fetchLayers else { continue }
                    do {
                        let torrent = try Torrent(infoDictionary: bytes, magnet: MagnetLink(infoHashes: infoHashes))
                        var layers = PieceLayerFetch<String>(
                            torrent: torrent, configuration: .init(maxHashesPerRequest: 64))
                        let first = layers.addPeer("libtorrent", now: .now())
                        layerFetch = layers
                        performLayers(first)
                    } catch {
                        outcome.failure = "fetched metadata is not a torrent: \(error)"
                    }
                case .blame(_, let reason):
                    outcome.failure = "libtorrent was blamed: \(reason)"
                case .hashMismatch:
                    outcome.failure = "libtorrent's metadata did not verify"
                }
            }
        }
        func done() -> Bool { outcome.infoDictionary != nil && (!fetchLayers || outcome.layers != nil) }
        while Date() < deadline && !done() && outcome.failure == nil {
            guard let bytes = socket.receive() else {
                return Outcome(failure: "libtorrent closed the connection")
            }
            let now = NIODeadline.now()
            if !handshakeRead {
                pending += bytes
                guard pending.count >= 68 else { continue }
                do {
                    let theirs = try Handshake(decoding: pending[0..<68])
                    // With the v2 bit, libtorrent upgrades a hybrid's connection by answering with the truncated
                    // v2 hash (BEP 52).
                    guard theirs.infoHash == infoHash || theirs.infoHash == infoHashes.v2Truncated else {
                        return Outcome(failure: "wrong info-hash")
                    }
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
                    if case .hashes(let hashes) = message, var layers = layerFetch {
                        let actions = layers.received(hashes, from: "libtorrent", now: now)
                        layerFetch = layers
                        performLayers(actions)
                    } else if case .hashReject(let request) = message, var layers = layerFetch {
                        let actions = layers.rejected(request, by: "libtorrent", now: now)
                        layerFetch = layers
                        performLayers(actions)
                    }
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
        if !done() && outcome.failure == nil { outcome.failure = "timed out" }
        return outcome
    }
}
