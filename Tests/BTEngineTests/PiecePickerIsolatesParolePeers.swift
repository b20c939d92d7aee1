import BTEngine
import BTMetainfo
import Testing

/// A peer on parole gets whole pieces that nobody else touches (seed 000 `on_parole`).
@Suite struct PiecePickerIsolatesParolePeers {
    let blockSize = 16 * 1024
    let parole = PiecePicker<String>.PickContext(onParole: true)

    func makePicker() -> PiecePicker<String> {
        let layout = makeLayout(pieceLength: 4 * blockSize, fileLengths: [Int64(8 * 4 * blockSize)])
        var picker = PiecePicker<String>(layout: layout)
        picker.peerHasAll("suspect")
        picker.peerHasAll("honest")
        return picker
    }

    @Test func aParolePeersPieceIsNotSharedAndItsPartialPiecesAreNotGivenToIt() {
        var picker = makePicker()
        var random = SeededGenerator(seed: 7)
        let honestFirst = picker.pick(for: "honest", count: 1, using: &random)
        let shared = honestFirst[0].piece
        let suspectBlocks = picker.pick(for: "suspect", count: 2, context: parole, using: &random)
        let isolated = suspectBlocks[0].piece
        #expect(isolated != shared, "a parole peer does not join a piece in progress")
        #expect(suspectBlocks.allSatisfy { $0.piece == isolated })

        // Everybody else avoids the isolated piece, even when only it has free blocks left.
        let honestRest = picker.pick(for: "honest", count: 1000, using: &random)
        #expect(!honestRest.contains { $0.piece == isolated })
        #expect(honestRest.contains { $0.piece == shared })

        // The suspect continues its own piece before anything else.
        let suspectMore = picker.pick(for: "suspect", count: 2, context: parole, using: &random)
        #expect(suspectMore.map(\.piece) == [isolated, isolated])
        #expect(picker.pick(for: "suspect", count: 1, context: parole, using: &random).isEmpty)
    }

    @Test func endgameNeverDuplicatesIntoOrOutOfAParolePiece() {
        var picker = makePicker()
        var random = SeededGenerator(seed: 3)
        let isolated = picker.pick(for: "suspect", count: 4, context: parole, using: &random)[0].piece
        _ = picker.pick(for: "honest", count: 1000, using: &random)
        #expect(picker.isInEndgame)
        let duplicates = picker.pick(for: "honest", count: 1000, using: &random)
        #expect(duplicates.isEmpty, "honest already holds every shareable block")
        picker.peerHasAll("third")
        let thirdDuplicates = picker.pick(for: "third", count: 1000, using: &random)
        #expect(!thirdDuplicates.isEmpty && !thirdDuplicates.contains { $0.piece == isolated })
        #expect(picker.pick(for: "suspect", count: 1000, context: parole, using: &random).isEmpty)
    }

    @Test func whenTheParolePeerLeavesItsPieceBecomesShareable() {
        var picker = makePicker()
        var random = SeededGenerator(seed: 11)
        let first = picker.pick(for: "suspect", count: 1, context: parole, using: &random)[0]
        #expect(picker.blockReceived(first, from: "suspect") == .accepted(cancel: []))
        picker.peerLeft("suspect")
        let honest = picker.pick(for: "honest", count: 3, using: &random)
        #expect(honest.map(\.piece) == [first.piece, first.piece, first.piece], "partial pieces are finished first")
        #expect(!honest.contains(first))
    }
}
