import BTEngine
import BTMetainfo
import Testing

/// Rarest first with random tie-breaking, after a random start (BEP 3 "Piece downloading strategy").
@Suite struct PiecePickerPicksRarestFirst {
    let blockSize = 16 * 1024

    @Test(arguments: 0..<25)
    func everyNewPieceIsAmongTheRarestThePeerHas(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let layout = makeLayout(pieceLength: 2 * blockSize, fileLengths: [Int64(64 * 2 * blockSize)])
        var have = Bitfield(count: 64)
        for piece in 0..<4 { have[piece] = true }  // past the random start
        var picker = PiecePicker<Int>(layout: layout, have: have)
        let peerCount = 12
        for peer in 0..<peerCount {
            var pieces = Bitfield(count: 64)
            for piece in 0..<64 where random.next(upperBound: 10 as UInt64) < 4 { pieces[piece] = true }
            picker.peerBitfield(peer, pieces)
        }
        for _ in 0..<40 {
            let peer = Int(random.next(upperBound: UInt64(peerCount)))
            let candidates = (0..<64).filter {
                picker.state(ofPiece: $0) == .missing && picker.priority(ofPiece: $0) > 0
                    && hasPiece(picker, peer: peer, piece: $0)
            }
            let picked = picker.pick(for: peer, count: 2, using: &random)
            if candidates.isEmpty {
                #expect(picked.allSatisfy { picker.state(ofPiece: $0.piece) == .downloading })
                continue
            }
            #expect(picked.count == 2)
            let piece = picked[0].piece
            let rarest = candidates.map { picker.availability(ofPiece: $0) }.min()!
            #expect(picker.availability(ofPiece: piece) == rarest)
            #expect(picked.allSatisfy { $0.piece == piece })
        }
    }

    @Test func tiesAreBrokenAtRandomButReproducibly() {
        let layout = makeLayout(pieceLength: blockSize, fileLengths: [Int64(32 * blockSize)])
        var have = Bitfield(count: 32)
        for piece in 0..<4 { have[piece] = true }
        var firstPicks: Set<Int> = []
        for seed in UInt64(0)..<20 {
            func firstPick() -> Int {
                var picker = PiecePicker<String>(layout: layout, have: have)
                picker.peerHasAll("seed")
                var random = SeededGenerator(seed: seed)
                return picker.pick(for: "seed", count: 1, using: &random)[0].piece
            }
            let pick = firstPick()
            #expect(pick == firstPick(), "same seed, same pick")
            firstPicks.insert(pick)
        }
        #expect(firstPicks.count >= 8, "equally rare pieces are chosen at random: \(firstPicks.sorted())")
    }

    @Test func theFirstPiecesArePickedAtRandomThenTheRarest() {
        let layout = makeLayout(pieceLength: blockSize, fileLengths: [Int64(16 * blockSize)])
        var firstPicks: Set<Int> = []
        for seed in UInt64(0)..<20 {
            var picker = swarmWithRarePieceNine(layout)
            var random = SeededGenerator(seed: seed)
            firstPicks.insert(picker.pick(for: 2, count: 1, using: &random)[0].piece)
        }
        #expect(firstPicks.count > 1 && firstPicks != [9], "random start ignores rarity: \(firstPicks.sorted())")

        var picker = swarmWithRarePieceNine(layout)
        #expect(picker.availability(ofPiece: 9) == 1 && picker.availability(ofPiece: 8) == 4)
        var random = SeededGenerator(seed: 1)
        for piece in [0, 1, 2, 3] { _ = picker.pieceVerified(piece) }
        #expect(picker.pick(for: 2, count: 1, using: &random) == [BlockRequest(piece: 9, offset: 0, length: blockSize)])
    }

    @Test func availabilityFollowsHaveBitfieldHaveAllAndDisconnects() {
        let layout = makeLayout(pieceLength: blockSize, fileLengths: [Int64(10 * blockSize)])
        var picker = PiecePicker<Int>(layout: layout)
        picker.peerHasAll(1)
        picker.peerHas(2, piece: 3)
        picker.peerHas(2, piece: 3)
        var bitfield = Bitfield(count: 10)
        bitfield[3] = true
        bitfield[4] = true
        picker.peerBitfield(3, bitfield)
        #expect(picker.availability(ofPiece: 3) == 3)
        #expect(picker.availability(ofPiece: 4) == 2)
        #expect(picker.availability(ofPiece: 5) == 1)
        picker.peerBitfield(3, Bitfield(count: 10))  // have_none replaces the earlier bitfield
        #expect(picker.availability(ofPiece: 4) == 1)
        picker.peerLeft(1)
        #expect(picker.availability(ofPiece: 3) == 1)
        #expect(picker.availability(ofPiece: 5) == 0)
        #expect(picker.isInteresting(2) && !picker.isInteresting(3) && !picker.isInteresting(1))

        // A peer whose `have`s complete its bitfield becomes a seed without counting any piece twice.
        var almost = Bitfield(count: 10, allSet: true)
        almost[0] = false
        picker.peerBitfield(4, almost)
        picker.peerHas(4, piece: 0)
        #expect((0..<10).map { picker.availability(ofPiece: $0) } == [1, 1, 1, 2, 1, 1, 1, 1, 1, 1])
        picker.peerLeft(4)
        #expect(picker.availability(ofPiece: 0) == 0 && picker.availability(ofPiece: 3) == 1)
    }

    /// Peer 2 is a seed; peers 3 to 5 have every piece but 9, so piece 9 is the rarest.
    private func swarmWithRarePieceNine(_ layout: PieceLayout) -> PiecePicker<Int> {
        var picker = PiecePicker<Int>(layout: layout)
        picker.peerHasAll(2)
        var common = Bitfield(count: 16, allSet: true)
        common[9] = false
        for peer in 3...5 { picker.peerBitfield(peer, common) }
        return picker
    }

    private func hasPiece(_ picker: PiecePicker<Int>, peer: Int, piece: Int) -> Bool {
        // The picker does not expose bitfields; probe with a copy: a peer has a piece if a pick restricted to
        // that piece (allowed fast while choked) returns it.
        var probe = picker
        var random = SeededGenerator(seed: 0)
        let context = PiecePicker<Int>.PickContext(choked: true, allowedFast: [piece])
        return !probe.pick(for: peer, count: 1, context: context, using: &random).isEmpty
    }
}
