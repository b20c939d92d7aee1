import BTMetainfo
import BTWebSeed
import NIOCore
import Testing

@Suite struct BlockCutterRebuildsBlocksFromAnyChunking {
    /// Two pieces of 40 bytes in blocks of 16 (16, 16, 8 each).
    let blocks: [BlockRequest] = [0, 1].flatMap { piece in
        [
            BlockRequest(piece: piece, offset: 0, length: 16), BlockRequest(piece: piece, offset: 16, length: 16),
            BlockRequest(piece: piece, offset: 32, length: 8),
        ]
    }
    let layout = PieceLayout(pieceLength: 40, files: [TorrentFile(path: ["f"], length: 80, offset: 0)])
    let payload = (0..<80).map { UInt8($0) }

    @Test(arguments: [1, 3, 7, 16, 17, 40, 80])
    func everyChunkSizeGivesTheSameBlocks(chunk: Int) throws {
        #expect(WebSeedBlockCutter.isContiguous(blocks, in: layout))
        var cutter = WebSeedBlockCutter(blocks: blocks)
        var out: [(BlockRequest, [UInt8])] = []
        var offset = 0
        while offset < payload.count {
            let end = min(payload.count, offset + chunk)
            out += try cutter.append(ByteBuffer(bytes: payload[offset..<end])).map {
                ($0.0, Array($0.1.readableBytesView))
            }
            offset = end
        }
        #expect(cutter.isComplete && cutter.remainingBytes == 0)
        #expect(out.map(\.0) == blocks)
        var position = 0
        for (block, bytes) in out {
            #expect(bytes == Array(payload[position..<(position + block.length)]))
            position += block.length
        }
    }

    @Test func bytesPastTheRunAreRefused() throws {
        var cutter = WebSeedBlockCutter(blocks: blocks)
        _ = try cutter.append(ByteBuffer(bytes: payload[0..<70]))
        #expect(throws: WebSeedError.self) { _ = try cutter.append(ByteBuffer(bytes: payload[0..<11])) }
    }

    @Test func aGapBetweenBlocksIsNotContiguous() {
        #expect(!WebSeedBlockCutter.isContiguous([blocks[0], blocks[2]], in: layout))
    }
}
