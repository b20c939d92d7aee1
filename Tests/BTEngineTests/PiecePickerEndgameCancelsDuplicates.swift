import BTEngine
import BTMetainfo
import Testing

/// Endgame: the last blocks are requested from several peers, and the others are cancelled when one arrives.
@Suite struct PiecePickerEndgameCancelsDuplicates {
    let blockSize = 16 * 1024

    func makePicker(peers: [String]) -> PiecePicker<String> {
        var picker = PiecePicker<String>(
            layout: makeLayout(pieceLength: 2 * blockSize, fileLengths: [Int64(4 * blockSize)]))
        for peer in peers { picker.peerHasAll(peer) }
        return picker
    }

    @Test func noDuplicatesWhileFreeBlocksRemain() {
        var picker = makePicker(peers: ["a", "b"])
        var random = SeededGenerator(seed: 1)
        let a = picker.pick(for: "a", count: 3, using: &random)
        #expect(!picker.isInEndgame)
        let b = picker.pick(for: "b", count: 1, using: &random)
        #expect(b.count == 1 && !a.contains(b[0]))
    }

    @Test func outstandingBlocksAreRequestedFromSeveralPeersAndDuplicatesCancelled() {
        var picker = makePicker(peers: ["a", "b", "c", "d"])
        var random = SeededGenerator(seed: 2)
        let all = picker.pick(for: "a", count: 10, using: &random)
        #expect(all.count == 4)
        #expect(picker.isInEndgame)
        let fromB = picker.pick(for: "b", count: 10, using: &random)
        #expect(Set(fromB) == Set(all), "every outstanding block is also asked of b")
        _ = picker.pick(for: "c", count: 10, using: &random)
        #expect(picker.pick(for: "d", count: 10, using: &random).isEmpty, "at most 3 requesters per block")

        let block = all[0]
        #expect(picker.state(of: block) == .requested(["a", "b", "c"]))
        #expect(picker.blockReceived(block, from: "b") == .accepted(cancel: ["a", "c"]))
        #expect(picker.state(of: block) == .received)
        #expect(!picker.requests(of: "a").contains(block) && !picker.requests(of: "c").contains(block))
        #expect(picker.blockReceived(block, from: "a") == .duplicate)

        // A rejected duplicate keeps the block with the remaining requester.
        let other = all[1]
        picker.requestCancelled(other, by: "a")
        #expect(picker.state(of: other) == .requested(["b", "c"]))
        picker.requestCancelled(other, by: "b")
        picker.requestCancelled(other, by: "c")
        #expect(picker.state(of: other) == .free)
        #expect(picker.pick(for: "d", count: 1, using: &random) == [other])
    }

    @Test func aChokeReturnsEveryRequestOfThatPeer() {
        var picker = makePicker(peers: ["a", "b"])
        var random = SeededGenerator(seed: 5)
        let asked = picker.pick(for: "a", count: 2, using: &random)
        #expect(picker.cancelRequests(of: "a") == asked.sorted())
        #expect(picker.requests(of: "a").isEmpty)
        #expect(Set(picker.pick(for: "b", count: 2, using: &random)) == Set(asked), "partial piece finished first")
    }
}
