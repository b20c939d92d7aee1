import BTMetainfo
import BTStorage
import BTWire
import Foundation
import NIOCore

/// A v2 torrent of a 21-piece file (64 KiB pieces: four blocks) and a one-piece file of three blocks, made by
/// ``TorrentCreator``, with each piece's true block hashes.
let fixture: (torrent: Torrent, blockHashes: [[UInt8]]) = {
    let folder = NSTemporaryDirectory() + "/nbt-fuzz-blame-\(getpid())"
    try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var files: [[UInt8]] = []
    for (name, size) in [("a.bin", 20 * 65_536 + 40_000), ("b.bin", 40_000)] {
        let content = (0..<size).map { UInt8(truncatingIfNeeded: ($0 + size) &* 2_654_435_761 >> 13) }
        FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(content))
        files.append(content)
    }
    var creator = TorrentCreator(path: folder)
    creator.version = .v2
    creator.pieceLength = 65_536
    creator.creationDate = nil
    let torrent = try! creator.create()
    var hashes: [[UInt8]] = []
    for piece in 0..<torrent.layout.pieceCount {
        let offset = torrent.layout.offset(ofPiece: piece)
        let file = torrent.layout.fileIndex(containing: offset)
        // The layout lists the v2 pad file between a.bin and b.bin; `files` holds only the two real ones.
        let content = files[torrent.layout.files[..<file].filter { !$0.isPadFile }.count]
        let start = Int(offset - torrent.layout.files[file].offset)
        let bytes = Array(content[start..<min(start + 65_536, content.count)])
        let blocks = (bytes.count + 16_383) / 16_384
        hashes.append(
            bytes.withUnsafeBytes {
                FailedPieceBlocks(senders: Array(repeating: PeerTag(0), count: blocks), data: $0).blockHashes
            })
    }
    return (torrent, hashes)
}()

/// Drives ``BlockHashBlame`` with hostile peers beside an honest block-layer ``PieceLayerServe``. The input is a
/// list of operations (an op byte and a peer byte, 8 peers): a piece fails (its number, a mask of altered
/// blocks and each block's sender), a hostile `hashes` or `hash reject` payload arrives (through the real
/// decoders), time passes, the honest server answers a request sent (or a hostile request is put to it). Only
/// the senders of altered blocks may ever be blamed, exactly them, and what the server answers proves up to
/// the file's root.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let torrent = fixture.torrent
    let pieceCount = torrent.layout.pieceCount
    var blame = BlockHashBlame<UInt8>(torrent: torrent)
    var server = PieceLayerServe(torrent: torrent)
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var sent: [(HashRequest, UInt8)] = []
    var truth: [Int: Set<UInt8>] = [:]
    var index = 0
    func take(_ count: Int) -> [UInt8]? {
        guard index + count <= bytes.count else { return nil }
        defer { index += count }
        return Array(bytes[index..<(index + count)])
    }
    let candidates: [UInt8] = Array(0..<8)
    var operations = 0
    while let head = take(2), operations < 1_000 {
        operations += 1
        let peer = head[1] % 8
        var actions: [BlockHashBlame<UInt8>.Action] = []
        switch head[0] % 6 {
        case 0:
            guard let spec = take(6) else { break }
            let piece = Int(spec[0]) % pieceCount
            var written = fixture.blockHashes[piece]
            let blocks = written.count / 32
            let senders = (0..<blocks).map { spec[2 + $0 % 4] % 8 }
            var bad: Set<UInt8> = []
            for block in 0..<blocks where spec[1] & (1 << block) != 0 {
                written[block * 32] ^= 0xFF
                bad.insert(senders[block])
            }
            let wasOpen = blame.openPieces.contains(piece)
            actions = blame.pieceFailed(
                piece, blockHashes: written, senders: senders, candidates: candidates, now: now)
            if !wasOpen && blame.openPieces.contains(piece) { truth[piece] = bad }
        case 1:
            guard let length = take(2), let payload = take(Int(length[0]) << 8 | Int(length[1])) else { break }
            guard let message = try? HashesMessage(decoding: payload) else { break }
            actions = blame.received(message, from: peer, now: now)
        case 2:
            guard let payload = take(HashRequest.payloadLength), let request = try? HashRequest(decoding: payload)
            else { break }
            actions = blame.rejected(request, by: peer, candidates: candidates, now: now)
        case 3:
            guard let step = take(1) else { break }
            now = now + .milliseconds(Int64(step[0]) * 100)
            actions = blame.tick(now: now, candidates: candidates)
        case 4:
            guard !sent.isEmpty, let which = take(1) else { break }
            let (request, asked) = sent[Int(which[0]) % sent.count]
            guard let piece = server.pieceForBlockRequest(request) else {
                actions = blame.rejected(request, by: asked, candidates: candidates, now: now)
                break
            }
            switch server.answer(request, pieceBlockHashes: fixture.blockHashes[piece]) {
            case .hashes(let message): actions = blame.received(message, from: asked, now: now)
            case .reject(let request): actions = blame.rejected(request, by: asked, candidates: candidates, now: now)
            }
        default:
            guard let payload = take(HashRequest.payloadLength), let request = try? HashRequest(decoding: payload),
                let piece = server.pieceForBlockRequest(request)
            else { break }
            precondition(piece >= 0 && piece < pieceCount, "a block request named piece \(piece)")
            if case .hashes(let message) = server.answer(request, pieceBlockHashes: fixture.blockHashes[piece]) {
                let root = request.piecesRoot
                precondition(
                    BlockHashBlame<UInt8>.blockRequest(forPiece: piece, layout: torrent.layout)?.root == root,
                    "served the blocks of another file's piece")
                precondition((try? message.validated()) != nil, "served a malformed hashes message")
            }
        }
        precondition(blame.openPieces.count <= blame.configuration.maxOpenCases, "too many open pieces")
        for action in actions {
            switch action {
            case .send(let request, let to):
                precondition(request.baseLayer == 0, "asked for another layer than the blocks")
                if sent.count < 64 { sent.append((request, to)) }
            case .blame(let peers, let piece):
                precondition(
                    peers == truth[piece],
                    "blamed \(peers) for piece \(piece), the bad blocks' senders \(String(describing: truth[piece]))")
                truth[piece] = nil
            case .unresolved(let piece, _):
                if !blame.openPieces.contains(piece) { truth[piece] = nil }
            case .liar:
                break
            }
        }
    }
    return 0
}
