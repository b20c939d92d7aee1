import BTMetainfo
import Crypto
import Foundation
import NIOCore
import Testing

@testable import BTWire

/// BEP 52 block hashes for a failed v2 piece, in memory: ``PieceLayerServe`` answers a block-layer request
/// from a piece's data with the proof up to the file's root, and ``BlockHashBlame`` names only the peers
/// whose blocks differ from those hashes; a peer whose hashes do not prove is a liar, and when nobody can
/// answer the piece is left to the caller's old rule (unresolved).
@Suite struct BlockHashesNameOnlyTheSendersOfBadBlocks {
    /// 64 KiB pieces: four blocks each.
    static let pieceLength = 65_536

    /// A v2 or hybrid torrent of a 21-piece file, a 3-piece file and a one-piece file of 3 blocks, with its
    /// files' bytes (in torrent order, by name).
    static func makeTorrent(_ version: TorrentVersion = .v2) throws -> (Torrent, [String: [UInt8]]) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-blame-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = WireTestSupport.SeededGenerator(seed: 17)
        var contents: [String: [UInt8]] = [:]
        for (name, size) in [("a.bin", 20 * pieceLength + 40_000), ("b.bin", 3 * pieceLength), ("c.bin", 40_000)] {
            let bytes = WireTestSupport.randomBytes(size, using: &rng)
            contents[name] = bytes
            try Data(bytes).write(to: folder.appendingPathComponent(name))
        }
        var creator = TorrentCreator(path: folder.path)
        creator.version = version
        creator.pieceLength = pieceLength
        return (try creator.create(), contents)
    }

    /// The SHA-256 of each 16 KiB block of `bytes`.
    static func blockHashes(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        stride(from: bytes.startIndex, to: bytes.endIndex, by: 16_384).flatMap {
            Array(SHA256.hash(data: Array(bytes[$0..<min($0 + 16_384, bytes.endIndex)])))
        }
    }

    /// The torrent's piece `piece`: its file's name and its bytes in that file.
    static func piece(_ piece: Int, of torrent: Torrent, _ contents: [String: [UInt8]]) -> (String, ArraySlice<UInt8>) {
        let layout = torrent.layout
        let offset = layout.offset(ofPiece: piece)
        let file = layout.files[layout.fileIndex(containing: offset)]
        let name = file.path.last!
        let start = Int(offset - file.offset)
        let bytes = contents[name]!
        return (name, bytes[start..<min(start + pieceLength, bytes.count)])
    }

    /// Runs `actions` against peers that serve from `server` (liars alter one hash), until nothing is sent.
    static func run(
        _ blame: inout BlockHashBlame<String>, server: inout PieceLayerServe, torrent: Torrent,
        contents: [String: [UInt8]], liars: Set<String> = [], rejecters: Set<String> = [],
        start: [BlockHashBlame<String>.Action], candidates: [String]
    ) throws -> [BlockHashBlame<String>.Action] {
        var log: [BlockHashBlame<String>.Action] = []
        var queue = start
        while !queue.isEmpty && log.count < 100 {
            let action = queue.removeFirst()
            log.append(action)
            guard case .send(let request, let peer) = action else { continue }
            let decoded = try HashRequest(decoding: request.encoded())
            guard !rejecters.contains(peer), let piece = server.pieceForBlockRequest(decoded) else {
                queue += blame.rejected(decoded, by: peer, candidates: candidates, now: .uptimeNanoseconds(0))
                continue
            }
            let hashes = blockHashes(Self.piece(piece, of: torrent, contents).1)
            switch server.answer(decoded, pieceBlockHashes: hashes) {
            case .hashes(let message):
                var bytes = message.encoded()
                if liars.contains(peer) { bytes[48 + 40] ^= 1 }
                queue += blame.received(try HashesMessage(decoding: bytes), from: peer, now: .uptimeNanoseconds(0))
            case .reject(let rejected):
                queue += blame.rejected(rejected, by: peer, candidates: candidates, now: .uptimeNanoseconds(0))
            }
        }
        return log
    }

    @Test(arguments: [TorrentVersion.v2, .hybrid])
    func onlyTheSenderOfTheBadBlockIsBlamed(version: TorrentVersion) throws {
        let (torrent, contents) = try Self.makeTorrent(version)
        var server = PieceLayerServe(torrent: torrent)
        var blame = BlockHashBlame<String>(torrent: torrent)
        // Piece 7 of a.bin (proof from the block run up through the piece layer's tree); block 2 altered.
        let (_, bytes) = Self.piece(7, of: torrent, contents)
        var received = Array(bytes)
        received[2 * 16_384 + 100] ^= 0xFF
        let written = Self.blockHashes(received[...])
        let start = blame.pieceFailed(
            7, blockHashes: written, senders: ["honest1", "honest2", "liar", "honest1"],
            candidates: ["liar", "honest1", "other"], now: .uptimeNanoseconds(0))
        // A peer that sent none of the piece's blocks is asked first.
        #expect(
            start.first
                == .send(BlockHashBlame<String>.blockRequest(forPiece: 7, layout: torrent.layout)!.0, to: "other"))
        let log = try Self.run(
            &blame, server: &server, torrent: torrent, contents: contents, start: start,
            candidates: ["liar", "honest1", "other"])
        #expect(log.last == .blame(["liar"], piece: 7), "\(log)")
        #expect(blame.openPieces.isEmpty)
    }

    @Test func theLastPieceOfAFileAndAOnePieceFileAreProvedToo() throws {
        let (torrent, contents) = try Self.makeTorrent()
        var server = PieceLayerServe(torrent: torrent)
        // a.bin's last piece (pieces 0...20, the last one short) and c.bin (one piece of 3 blocks, no layer).
        let cPiece = torrent.layout.pieces(ofFile: torrent.layout.files.firstIndex { $0.path.last == "c.bin" }!)
        for piece in [20, cPiece.lowerBound] {
            var blame = BlockHashBlame<String>(torrent: torrent)
            let (_, bytes) = Self.piece(piece, of: torrent, contents)
            var received = Array(bytes)
            received[0] ^= 1
            let blocks = (received.count + 16_383) / 16_384
            let senders = (0..<blocks).map { $0 == 0 ? "liar" : "honest" }
            let start = blame.pieceFailed(
                piece, blockHashes: Self.blockHashes(received[...]), senders: senders, candidates: ["seed"],
                now: .uptimeNanoseconds(0))
            let log = try Self.run(
                &blame, server: &server, torrent: torrent, contents: contents, start: start, candidates: ["seed"])
            #expect(log.last == .blame(["liar"], piece: piece), "piece \(piece): \(log)")
        }
    }

    @Test func hashesThatDoNotProveConvictTheirSenderAndAnotherPeerIsAsked() throws {
        let (torrent, contents) = try Self.makeTorrent()
        var server = PieceLayerServe(torrent: torrent)
        var blame = BlockHashBlame<String>(torrent: torrent)
        let (_, bytes) = Self.piece(3, of: torrent, contents)
        var received = Array(bytes)
        received[3 * 16_384] ^= 1
        let start = blame.pieceFailed(
            3, blockHashes: Self.blockHashes(received[...]), senders: ["a", "a", "a", "b"],
            candidates: ["forger", "seed"], now: .uptimeNanoseconds(0))
        let log = try Self.run(
            &blame, server: &server, torrent: torrent, contents: contents, liars: ["forger"], start: start,
            candidates: ["forger", "seed"])
        #expect(log.contains(.liar("forger")))
        #expect(log.last == .blame(["b"], piece: 3), "\(log)")
    }

    @Test func withNobodyToAnswerThePieceIsLeftToTheOldRule() throws {
        let (torrent, contents) = try Self.makeTorrent()
        var server = PieceLayerServe(torrent: torrent)
        var blame = BlockHashBlame<String>(torrent: torrent)
        let (_, bytes) = Self.piece(1, of: torrent, contents)
        let written = Self.blockHashes(bytes)
        // Everybody rejects: after the third peer, unresolved.
        let start = blame.pieceFailed(
            1, blockHashes: written, senders: ["a", "b", "a", "b"], candidates: ["p", "q", "r", "s"],
            now: .uptimeNanoseconds(0))
        let log = try Self.run(
            &blame, server: &server, torrent: torrent, contents: contents, rejecters: ["p", "q", "r", "s"],
            start: start, candidates: ["p", "q", "r", "s"])
        #expect(log.filter { if case .send = $0 { return true } else { return false } }.count == 3)
        #expect(log.last == .unresolved(piece: 1, contributors: ["a", "b"]))
        // Nobody speaks v2: it waits one timeout, then gives up.
        var alone = BlockHashBlame<String>(torrent: torrent)
        #expect(
            alone.pieceFailed(
                1, blockHashes: written, senders: ["a", "b", "a", "b"], candidates: [], now: .uptimeNanoseconds(0)
            ).isEmpty)
        #expect(alone.tick(now: .uptimeNanoseconds(0) + .seconds(5), candidates: []).isEmpty)
        #expect(
            alone.tick(now: .uptimeNanoseconds(0) + .seconds(10), candidates: [])
                == [.unresolved(piece: 1, contributors: ["a", "b"])])
        // One sender, or a v1 torrent: decided at once, nothing asked.
        #expect(
            alone.pieceFailed(
                2, blockHashes: written, senders: ["a", "a", "a", "a"], candidates: ["p"], now: .uptimeNanoseconds(0))
                == [.unresolved(piece: 2, contributors: ["a"])])
        // Hashes that prove but show every block as written (a hybrid whose SHA-1 alone failed): unresolved.
        var same = BlockHashBlame<String>(torrent: torrent)
        let again = same.pieceFailed(
            1, blockHashes: written, senders: ["a", "b", "a", "b"], candidates: ["seed"], now: .uptimeNanoseconds(0))
        let sameLog = try Self.run(
            &same, server: &server, torrent: torrent, contents: contents, start: again, candidates: ["seed"])
        #expect(sameLog.last == .unresolved(piece: 1, contributors: ["a", "b"]))
    }

    @Test func theServerRefusesBlockRunsItCannotAnswerFromOnePiece() throws {
        let (torrent, contents) = try Self.makeTorrent()
        var server = PieceLayerServe(torrent: torrent)
        let (request, root) = try #require(BlockHashBlame<String>.blockRequest(forPiece: 5, layout: torrent.layout))
        #expect(server.pieceForBlockRequest(request) == 5)
        // Two pieces' worth of blocks, a run past the file's blocks, a proof up to the root, an unknown root.
        var twoPieces = request
        twoPieces.length = 8
        twoPieces.index = 0
        var pastTheEnd = request
        pastTheEnd.index = 24 * 4
        var proofTooHigh = request
        proofTooHigh.proofLayers = 7
        var unknown = request
        unknown.piecesRoot = [UInt8](repeating: 9, count: 32)
        for refused in [twoPieces, pastTheEnd, proofTooHigh, unknown] {
            #expect(server.pieceForBlockRequest(refused) == nil, "\(refused)")
            #expect(server.answer(refused, pieceBlockHashes: [UInt8](repeating: 0, count: 128)) == .reject(refused))
        }
        // Hashes that do not give the piece's hash (our data changed on disk) are not served.
        var stale = Array(Self.piece(5, of: torrent, contents).1)
        stale[0] ^= 1
        #expect(server.answer(request, pieceBlockHashes: Self.blockHashes(stale[...])) == .reject(request))
        guard
            case .hashes(let message) = server.answer(
                request, pieceBlockHashes: Self.blockHashes(Self.piece(5, of: torrent, contents).1))
        else {
            Issue.record("piece 5's block hashes were not served")
            return
        }
        #expect(MerkleTree.root(ofRun: message.baseHashes, index: request.index, uncles: message.uncles) == root)
    }
}
