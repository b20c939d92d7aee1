import BTMetainfo
import Foundation
import NIOCore
import Testing

@testable import BTWire

/// BEP 52 hash exchange end to end, in memory: a v2 torrent made by ``TorrentCreator`` is stripped of its
/// piece layers, and ``PieceLayerFetch`` recovers every layer from a ``PieceLayerServe`` through the real
/// message codecs, proofs included, convicting a peer that alters hashes.
@Suite struct PieceLayersAreRecoveredFromPeersWithProofs {
    static let pieceLength = 32_768

    /// A folder with a 38-piece file, a 3-piece file and a file smaller than a piece.
    static func makeTorrent(_ version: TorrentVersion) throws -> Torrent {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-layers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = WireTestSupport.SeededGenerator(seed: 52)
        for (name, size) in [("big.bin", 37 * pieceLength + 100), ("mid.bin", 3 * pieceLength), ("small.txt", 999)] {
            try Data(WireTestSupport.randomBytes(size, using: &rng)).write(to: folder.appendingPathComponent(name))
        }
        var creator = TorrentCreator(path: folder.path)
        creator.version = version
        creator.pieceLength = pieceLength
        creator.trackers = [["http://127.0.0.1:6969/announce"]]
        return try creator.create()
    }

    /// Runs the fetcher against serving peers until nothing is pending.
    static func run(
        _ fetch: inout PieceLayerFetch<String>, server: inout PieceLayerServe, liars: Set<String>,
        start: [PieceLayerFetch<String>.Action]
    ) throws -> [PieceLayerFetch<String>.Action] {
        var log: [PieceLayerFetch<String>.Action] = []
        var queue = start
        while !queue.isEmpty && log.count < 10_000 {
            let action = queue.removeFirst()
            log.append(action)
            guard case .send(let request, let peer) = action else { continue }
            // The request crosses the wire codec, then the answer does.
            switch server.answer(try HashRequest(decoding: request.encoded())) {
            case .hashes(let hashes):
                var bytes = hashes.encoded()
                if liars.contains(peer) { bytes[48 + 5] ^= 1 }
                queue += fetch.received(try HashesMessage(decoding: bytes), from: peer, now: .uptimeNanoseconds(0))
            case .reject(let rejected):
                queue += fetch.rejected(
                    try HashRequest(decoding: rejected.encoded()), by: peer, now: .uptimeNanoseconds(0))
            }
        }
        return log
    }

    @Test(arguments: [TorrentVersion.v2, .hybrid])
    func strippedLayersAreRecoveredAndTheLiarIsBlamed(version: TorrentVersion) throws {
        let original = try Self.makeTorrent(version)
        #expect(original.pieceLayers.count == 2)
        let stripped = try Torrent(infoDictionary: original.infoBytes, trackers: original.announceTiers)
        #expect(stripped.infoHashes == original.infoHashes && stripped.filesMissingPieceLayers.count == 2)

        var server = PieceLayerServe(torrent: original)
        // Runs of 8 hashes: the 38-piece file (64 wide) needs 3 uncles per run, so proofs are exercised.
        var fetch = PieceLayerFetch<String>(torrent: stripped, configuration: .init(maxHashesPerRequest: 8))
        #expect(fetch.progress.total == 5 + 1)
        var start = fetch.addPeer("liar", now: .uptimeNanoseconds(0))
        start += fetch.addPeer("honest", now: .uptimeNanoseconds(0))
        let log = try Self.run(&fetch, server: &server, liars: ["liar"], start: start)

        #expect(log.contains(.blame("liar")))
        #expect(!log.contains(.blame("honest")))
        #expect(fetch.isComplete && fetch.layers == original.pieceLayers)
        #expect(log.filter { if case .layerVerified = $0 { return true } else { return false } }.count == 2)

        // The complete .torrent written from the fetched metadata and layers equals the original's content.
        let rebuilt = try Torrent(
            infoDictionary: stripped.infoBytes, trackers: original.announceTiers, pieceLayers: fetch.layers)
        let reread = try Torrent(bytes: rebuilt.encoded())
        #expect(reread.infoHashes == original.infoHashes && reread.pieceLayers == original.pieceLayers)
        #expect(reread.filesMissingPieceLayers.isEmpty)
    }

    @Test func theServerRejectsWhatItCannotProve() throws {
        let original = try Self.makeTorrent(.v2)
        var server = PieceLayerServe(torrent: original)
        let big = original.files.first { $0.path.last == "big.bin" }!.piecesRoot!
        let good = HashRequest(piecesRoot: big, baseLayer: 1, index: 0, length: 64, proofLayers: 5)
        guard case .hashes(let answer) = server.answer(good) else {
            Issue.record("a whole piece layer with a full proof is served")
            return
        }
        #expect(answer.uncles.isEmpty && answer.baseHashes.prefix(38 * 32) == original.pieceLayers[big]![...])
        let bad = [
            HashRequest(
                piecesRoot: [UInt8](repeating: 9, count: 32), baseLayer: 1, index: 0, length: 2, proofLayers: 0),
            HashRequest(piecesRoot: big, baseLayer: 0, index: 0, length: 2, proofLayers: 0),  // blocks: not known
            HashRequest(piecesRoot: big, baseLayer: 1, index: 64, length: 2, proofLayers: 0),  // past the layer
            HashRequest(piecesRoot: big, baseLayer: 1, index: 0, length: 2, proofLayers: 6),  // above the root
            HashRequest(piecesRoot: big, baseLayer: 7, index: 0, length: 1, proofLayers: 0),  // the root layer
        ]
        for request in bad { #expect(server.answer(request) == .reject(request)) }
    }

    @Test func rejectedAndTimedOutRunsAreAskedOfAnotherPeer() throws {
        let original = try Self.makeTorrent(.v2)
        let stripped = try Torrent(infoDictionary: original.infoBytes)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var fetch = PieceLayerFetch<String>(torrent: stripped, configuration: .init(maxOutstandingRequestsPerPeer: 1))
        let first = fetch.addPeer("A", now: start)
        guard case .send(let request, "A") = try #require(first.first) else {
            Issue.record("the first run is asked of A")
            return
        }
        #expect(fetch.addPeer("B", now: start).count == 1)
        // A rejects: A is not asked for that run again for 30 s; B is busy with its own run, so A gets another.
        let afterReject = fetch.rejected(request, by: "A", now: start)
        #expect(!afterReject.contains(.send(request, to: "A")))
        // Nothing answers for 20 s: every run is taken back and asked again; the rejected run goes to B.
        let retried = fetch.tick(now: start + .seconds(20))
        #expect(retried.contains(.send(request, to: "B")))
        #expect(!retried.contains(.send(request, to: "A")))
        #expect(!fetch.isComplete && fetch.progress.verified == 0)
    }

    @Test func aV1TorrentNeedsNoLayers() throws {
        let torrent = try Self.makeTorrent(.v1)
        var fetch = PieceLayerFetch<String>(torrent: torrent)
        #expect(fetch.isComplete)
        #expect(fetch.addPeer("p", now: .uptimeNanoseconds(0)).isEmpty)
    }
}
