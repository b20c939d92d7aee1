import BTMetainfo
import BTWire
import Foundation
import NIOCore
import Testing

@testable import BTEngine

/// ``PieceLayerServing`` answers hash requests from a torrent's piece layers with proofs that verify up to
/// the file's root, rejects what it cannot serve, and holds each peer to its rate: past
/// ``PieceLayerServing/maxRequestsPerSecond`` requests or ``PieceLayerServing/maxHashesPerSecond`` hashes in a
/// second it rejects, and the next second it answers again.
@Suite struct PieceLayerServingIsRateLimited {
    static func torrent() throws -> Torrent {
        let folder = try ClientFixtures.temporaryFolder("serving")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try ClientExchangesPieceLayers.makeTorrent(in: folder, version: .v2)
    }

    @Test func answersVerifyAndAFloodIsRejected() throws {
        let torrent = try Self.torrent()
        var serving = PieceLayerServing(torrent: torrent)
        let (root, layer) = try #require(torrent.pieceLayers.max { $0.value.count < $1.value.count })
        let pieces = layer.count / 32
        var width = 1
        while width < pieces { width <<= 1 }
        let request = HashRequest(
            piecesRoot: root, baseLayer: MerkleTree.levels(perPiece: torrent.pieceLength), index: 0, length: width,
            proofLayers: 0)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        guard case .hashes(let answer) = serving.answer(request, from: 1, now: start) else {
            Issue.record("the piece layer was not served")
            return
        }
        #expect(Array(answer.baseHashes.prefix(layer.count)) == layer)
        #expect(MerkleTree.root(ofRun: answer.baseHashes, index: 0, uncles: answer.uncles) == root)
        // An unknown root and the block layer are rejected.
        var unknown = request
        unknown.piecesRoot = [UInt8](repeating: 7, count: 32)
        #expect(serving.answer(unknown, from: 1, now: start) == .reject(unknown))
        var blocks = request
        blocks.baseLayer = 0
        #expect(serving.answer(blocks, from: 1, now: start) == .reject(blocks))
        // A flood: past the second's requests (three made above) every request is rejected; another peer is
        // not affected.
        var answered = 0
        for _ in 0..<100 {
            if case .hashes = serving.answer(request, from: 1, now: start) { answered += 1 }
        }
        #expect(answered == PieceLayerServing.maxRequestsPerSecond - 3)
        if case .hashes = serving.answer(request, from: 2, now: start) {} else { Issue.record("peer 2 was limited") }
        // A second later the peer is answered again.
        if case .hashes = serving.answer(request, from: 1, now: start + .seconds(1)) {
        } else {
            Issue.record("the limit did not end")
        }
    }
}
