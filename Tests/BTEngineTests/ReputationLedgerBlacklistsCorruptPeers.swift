import BTEngine
import BTMetainfo
import Testing

/// Seed 001 reputation: start 100, +1 per verified piece, -20 per corrupt piece, blacklist at 50 or below;
/// parole until a whole good piece.
@Suite struct ReputationLedgerBlacklistsCorruptPeers {
    @Test func scoresMoveAsTheSeedSaysAndTheBlacklistStartsAtFifty() {
        var ledger = ReputationLedger<String>()
        #expect(ledger.score(of: "a") == 100)
        _ = ledger.pieceVerified(contributors: ["a", "b"])
        #expect(ledger.score(of: "a") == 101 && ledger.score(of: "b") == 101)
        #expect(ledger.pieceFailed(contributors: ["a"]).newlyBlacklisted.isEmpty)  // 81
        #expect(ledger.pieceFailed(contributors: ["a"]).newlyBlacklisted.isEmpty)  // 61
        #expect(ledger.pieceFailed(contributors: ["a"]).newlyBlacklisted == ["a"])  // 41
        #expect(ledger.isBlacklisted("a") && !ledger.isBlacklisted("b"))
        #expect(ledger.pieceFailed(contributors: ["a"]).newlyBlacklisted.isEmpty, "reported once")

        var boundary = ReputationLedger<String>()
        for _ in 0..<10 { _ = boundary.pieceVerified(contributors: ["c"]) }  // 110
        _ = boundary.pieceFailed(contributors: ["c"])  // 90
        _ = boundary.pieceFailed(contributors: ["c"])  // 70
        #expect(!boundary.isBlacklisted("c"))
        #expect(boundary.pieceFailed(contributors: ["c"]).newlyBlacklisted == ["c"], "exactly 50 is blacklisted")
        #expect(boundary.blacklisted == ["c"])
    }

    @Test func paroleLastsUntilAWholeGoodPieceFromThePeerAlone() {
        var ledger = ReputationLedger<String>()
        let failed = ledger.pieceFailed(contributors: ["a", "b"])
        #expect(failed.enteredParole == ["a", "b"])
        #expect(ledger.isOnParole("a") && ledger.isOnParole("b"))
        #expect(ledger.pieceVerified(contributors: ["a", "c"]).leftParole.isEmpty, "a shared piece proves nothing")
        #expect(ledger.pieceVerified(contributors: ["a"]).leftParole == ["a"])
        #expect(!ledger.isOnParole("a") && ledger.isOnParole("b"))
    }

    @Test func aCorruptSeederEndsBlacklistedWhileTheDownloadCompletes() {
        // Picker and ledger together, fed as the engine will feed them from piece_hash_pass/fail.
        let blockSize = 16 * 1024
        let layout = makeLayout(pieceLength: blockSize, fileLengths: [Int64(10 * blockSize)])
        var picker = PiecePicker<String>(layout: layout)
        var ledger = ReputationLedger<String>()
        picker.peerHasAll("liar")
        picker.peerHasAll("honest")
        var random = SeededGenerator(seed: 8)
        var connected: Set<String> = ["liar", "honest"]
        var rounds = 0
        while !picker.isComplete && rounds < 100 {
            rounds += 1
            for peer in connected.sorted() {
                let context = PiecePicker<String>.PickContext(onParole: ledger.isOnParole(peer))
                for block in picker.pick(for: peer, count: 1, context: context, using: &random) {
                    guard case .accepted = picker.blockReceived(block, from: peer), picker.blockWritten(block) else {
                        continue
                    }
                    // One block per piece: its sender is the piece's one contributor (storage's record).
                    if peer == "liar" {
                        picker.pieceFailed(block.piece)
                        let update = ledger.pieceFailed(contributors: [peer])
                        for banned in update.newlyBlacklisted {
                            connected.remove(banned)
                            picker.peerLeft(banned)
                        }
                    } else {
                        picker.pieceVerified(block.piece)
                        _ = ledger.pieceVerified(contributors: [peer])
                    }
                }
            }
        }
        #expect(picker.isComplete)
        #expect(ledger.isBlacklisted("liar") && !connected.contains("liar"))
        #expect(ledger.score(of: "liar") <= 50 && ledger.score(of: "honest") == 110)
    }

    @Test func theLedgerStaysBoundedAndKeepsTheBlacklist() {
        var configuration = ReputationLedger<Int>.Configuration()
        configuration.maximumEntries = 10
        var ledger = ReputationLedger<Int>(configuration: configuration)
        for _ in 0..<3 { _ = ledger.pieceFailed(contributors: [0]) }
        for peer in 1...30 { _ = ledger.pieceVerified(contributors: [peer]) }
        #expect(ledger.count <= 10)
        #expect(ledger.isBlacklisted(0))
    }
}
