import BTEngine
import BTMetainfo
import Testing

/// Block and piece lifecycle: received, written, verifying, then have or back to the pool.
@Suite struct PiecePickerRedownloadsFailedPieces {
    let blockSize = 16 * 1024

    @Test func aFailedPieceReturnsEveryBlockAndIsFetchedAgain() {
        let layout = makeLayout(pieceLength: 3 * blockSize, fileLengths: [Int64(3 * blockSize)])
        var picker = PiecePicker<String>(layout: layout)
        picker.peerHasAll("liar")
        var random = SeededGenerator(seed: 1)
        let blocks = picker.pick(for: "liar", count: 3, using: &random)
        #expect(blocks == picker.blocks(ofPiece: 0))
        for block in blocks { #expect(picker.blockReceived(block, from: "liar") == .accepted(cancel: [])) }
        #expect(picker.blockWritten(blocks[0]) == false)
        #expect(picker.blockWritten(blocks[1]) == false)
        #expect(picker.state(ofPiece: 0) == .downloading)
        #expect(picker.blockWritten(blocks[2]) == true)
        #expect(picker.state(ofPiece: 0) == .verifying)
        #expect(picker.pick(for: "liar", count: 3, using: &random).isEmpty, "nothing to do while verifying")
        #expect(picker.blockReceived(blocks[0], from: "liar") == .unwanted)

        picker.pieceFailed(0)
        #expect(picker.state(ofPiece: 0) == .missing)
        #expect(blocks.allSatisfy { picker.state(of: $0) == .free })

        picker.peerLeft("liar")
        picker.peerHasAll("honest")
        let again = picker.pick(for: "honest", count: 3, using: &random)
        #expect(again == blocks)
        for block in again {
            _ = picker.blockReceived(block, from: "honest")
            _ = picker.blockWritten(block)
        }
        picker.pieceVerified(0)
        #expect(picker.state(ofPiece: 0) == .have && picker.have[0] && picker.isComplete)
    }

    /// Who sent a failed piece's blocks is storage's record (`BlockWriteResult.pieceFailed(piece:peers:)`); the
    /// picker only puts every block back, whichever peer sent or was asked for it.
    @Test func aFailedPieceFreesTheBlocksOfEveryPeer() {
        let layout = makeLayout(pieceLength: 3 * blockSize, fileLengths: [Int64(3 * blockSize)])
        var picker = PiecePicker<String>(layout: layout)
        picker.peerHasAll("a")
        picker.peerHasAll("b")
        var random = SeededGenerator(seed: 1)
        let first = picker.pick(for: "a", count: 1, using: &random)[0]
        let second = picker.pick(for: "b", count: 1, using: &random)[0]
        let third = picker.pick(for: "b", count: 1, using: &random)[0]
        _ = picker.blockReceived(first, from: "a")
        _ = picker.blockReceived(second, from: "b")
        #expect(picker.state(of: first) == .received && picker.state(of: third) == .requested(["b"]))
        picker.pieceFailed(0)
        #expect([first, second, third].allSatisfy { picker.state(of: $0) == .free })
        #expect(picker.requests(of: "a").isEmpty && picker.requests(of: "b").isEmpty)
    }

    @Test func malformedOrUnrequestedBlocksAreRefused() {
        let layout = makeLayout(pieceLength: 2 * blockSize, fileLengths: [Int64(4 * blockSize)])
        var picker = PiecePicker<String>(layout: layout)
        picker.peerHasAll("a")
        var random = SeededGenerator(seed: 1)
        let block = picker.pick(for: "a", count: 1, using: &random)[0]
        let other = (block.piece + 1) % 2
        #expect(picker.blockReceived(BlockRequest(piece: other, offset: 0, length: blockSize), from: "a") == .unwanted)
        #expect(
            picker.blockReceived(BlockRequest(piece: block.piece, offset: 1, length: blockSize), from: "a") == .unwanted
        )
        #expect(picker.blockReceived(BlockRequest(piece: 7, offset: 0, length: blockSize), from: "a") == .unwanted)
        #expect(picker.blockWritten(block) == false, "not received yet")
    }
}
