import BTEngine
import BTMetainfo
import Testing

/// Sequential mode for streaming, per-file priorities (0 skips a file), allowed-fast and suggested pieces.
@Suite struct PiecePickerHonoursSequentialModeAndPriorities {
    let blockSize = 16 * 1024

    @Test(arguments: [UInt64(1), 2, 3])
    func sequentialModePicksInIndexOrderWhateverTheRarity(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let layout = makeLayout(pieceLength: blockSize, fileLengths: [Int64(12 * blockSize)])
        var picker = PiecePicker<Int>(layout: layout)
        picker.isSequential = true
        picker.peerHasAll(0)
        for peer in 1...5 {
            var pieces = Bitfield(count: 12)
            for piece in 0..<12 where random.next(upperBound: 2 as UInt64) == 0 { pieces[piece] = true }
            picker.peerBitfield(peer, pieces)
        }
        var order: [Int] = []
        for _ in 0..<12 {
            let blocks = picker.pick(for: 0, count: 1, using: &random)
            order.append(blocks[0].piece)
            #expect(picker.blockReceived(blocks[0], from: 0) == .accepted(cancel: []))
        }
        #expect(order == Array(0..<12))
    }

    @Test func skippedFilesAreNotDownloadedAndHighPriorityFilesComeFirst() {
        // Pieces of 2 blocks; files: [0, 2.5 pieces) , [2.5, 5) , [5, 8) pieces.
        let piece = Int64(2 * blockSize)
        let layout = makeLayout(pieceLength: Int(piece), fileLengths: [piece * 5 / 2, piece * 5 / 2, piece * 3])
        var picker = PiecePicker<String>(layout: layout)
        picker.setPriority(.skip, ofFile: 1)
        picker.setPriority(.high, ofFile: 2)
        #expect((0..<8).map { picker.priority(ofPiece: $0) } == [1, 1, 1, 0, 0, 2, 2, 2])
        picker.peerHasAll("seed")
        var random = SeededGenerator(seed: 9)
        var order: [Int] = []
        while true {
            let blocks = picker.pick(for: "seed", count: 2, using: &random)
            guard let first = blocks.first else { break }
            order.append(first.piece)
        }
        #expect(Set(order.prefix(3)) == [5, 6, 7], "high priority first")
        #expect(Set(order.dropFirst(3)) == [0, 1, 2], "piece 2 is shared with a wanted file")
        #expect(!order.contains(3) && !order.contains(4))
        for index in order { _ = picker.pieceVerified(index) }
        #expect(picker.isComplete)
        #expect(!picker.isInteresting("seed"))
    }

    @Test func aChokedPeerIsOnlyAskedForAllowedFastPieces() {
        let layout = makeLayout(pieceLength: blockSize, fileLengths: [Int64(8 * blockSize)])
        var picker = PiecePicker<String>(layout: layout)
        picker.peerHasAll("peer")
        var random = SeededGenerator(seed: 4)
        let choked = PiecePicker<String>.PickContext(choked: true)
        #expect(picker.pick(for: "peer", count: 8, context: choked, using: &random).isEmpty)
        let fast = PiecePicker<String>.PickContext(choked: true, allowedFast: [3, 6])
        #expect(Set(picker.pick(for: "peer", count: 8, context: fast, using: &random).map(\.piece)) == [3, 6])
    }

    @Test func inSequentialModeAllowedFastPiecesJumpTheOrderOnlyWhileChoked() {
        // Pieces of two blocks; the peer allows pieces 5 and 9 while it chokes us.
        let layout = makeLayout(pieceLength: 2 * blockSize, fileLengths: [Int64(12 * 2 * blockSize)])
        var picker = PiecePicker<String>(layout: layout)
        picker.isSequential = true
        picker.peerHasAll("peer")
        var random = SeededGenerator(seed: 6)
        let choked = PiecePicker<String>.PickContext(choked: true, allowedFast: [5, 9])
        #expect(picker.pick(for: "peer", count: 1, context: choked, using: &random).map(\.piece) == [5])
        // Unchoked (the allowed-fast set still known): index order again; piece 5's other block waits its turn.
        let unchoked = PiecePicker<String>.PickContext(allowedFast: [5, 9])
        let next = picker.pick(for: "peer", count: 10, context: unchoked, using: &random)
        #expect(next.map(\.piece) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
        #expect(picker.pick(for: "peer", count: 3, context: unchoked, using: &random).map(\.piece) == [5, 6, 6])
        // Choked again: only the allowed-fast pieces, piece 9 next.
        #expect(picker.pick(for: "peer", count: 4, context: choked, using: &random).map(\.piece) == [9, 9])
    }

    @Test func suggestedPiecesAreStartedBeforeRarerOnes() {
        let layout = makeLayout(pieceLength: blockSize, fileLengths: [Int64(8 * blockSize)])
        var have = Bitfield(count: 8)
        for piece in 0..<4 { have[piece] = true }
        var picker = PiecePicker<String>(layout: layout, have: have)
        picker.peerHasAll("peer")
        picker.peerHasAll("other")
        picker.peerHas("third", piece: 5)  // piece 5 is the most common, 4, 6 and 7 are rarer
        var random = SeededGenerator(seed: 4)
        let context = PiecePicker<String>.PickContext(suggested: [5])
        #expect(picker.pick(for: "peer", count: 1, context: context, using: &random).map(\.piece) == [5])
    }

    @Test func theLastPieceHasAShortLastBlock() {
        let layout = makeLayout(pieceLength: 2 * blockSize, fileLengths: [Int64(2 * blockSize + 100)])
        let picker = PiecePicker<Int>(layout: layout)
        #expect(picker.blocks(ofPiece: 1) == [BlockRequest(piece: 1, offset: 0, length: 100)])
        #expect(picker.blockCount(ofPiece: 0) == 2)
    }
}
