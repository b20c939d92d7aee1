import BTEngine
import BTMetainfo
import Testing

/// A randomised swarm: blocks arrive out of order, peers leave and come back, one peer sends corrupt data.
/// Whatever happens, requests only go to peers that have the piece, never twice to the same peer, and the
/// download completes with the liar blacklisted.
@Suite struct PiecePickerCompletesRandomSwarms {
    @Test(arguments: 0..<10 as Range<UInt64>)
    func aSwarmWithALiarAndChurnCompletes(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let blockSize = 16 * 1024
        let layout = makeLayout(pieceLength: 4 * blockSize, fileLengths: [Int64(40 * 4 * blockSize - 5000)])
        var picker = PiecePicker<Int>(layout: layout)
        var ledger = ReputationLedger<Int>()
        let liar = 3
        var bitfields: [Int: Bitfield] = [0: Bitfield(count: 40, allSet: true)]
        for peer in 1..<8 {
            var bitfield = Bitfield(count: 40)
            for piece in 0..<40 where random.next(upperBound: 3 as UInt64) != 0 { bitfield[piece] = true }
            bitfields[peer] = bitfield
        }
        var connected: Set<Int> = []
        var outstanding: [Int: Set<BlockRequest>] = [:]
        func join(_ peer: Int) {
            connected.insert(peer)
            picker.peerBitfield(peer, bitfields[peer]!)
        }
        func leave(_ peer: Int) {
            connected.remove(peer)
            outstanding[peer] = nil
            picker.peerLeft(peer)
        }
        for peer in 0..<8 { join(peer) }

        var senders: [Int: Set<Int>] = [:]
        var rounds = 0
        while !picker.isComplete && rounds < 2_000 {
            rounds += 1
            for peer in connected.sorted() {
                let context = PiecePicker<Int>.PickContext(onParole: ledger.isOnParole(peer))
                let before = picker.requests(of: peer)
                let picked = picker.pick(for: peer, count: 4, context: context, using: &random)
                #expect(picked.allSatisfy { bitfields[peer]![$0.piece] }, "only pieces the peer has")
                #expect(before.isDisjoint(with: picked) && Set(picked).count == picked.count, "never asked twice")
                outstanding[peer, default: []].formUnion(picked)
            }
            // Deliver about half of the outstanding requests, in random order.
            var deliveries = outstanding.flatMap { peer, blocks in blocks.map { (peer, $0) } }
                .sorted { ($0.0, $0.1) < ($1.0, $1.1) }
            deliveries.shuffle(using: &random)
            for (peer, block) in deliveries.prefix(deliveries.count / 2 + 1) {
                guard outstanding[peer]?.remove(block) != nil else { continue }
                guard case .accepted(let cancel) = picker.blockReceived(block, from: peer) else { continue }
                for other in cancel { outstanding[other]?.remove(block) }
                senders[block.piece, default: []].insert(peer)
                guard picker.blockWritten(block) else { continue }
                let verifying = picker.state(ofPiece: block.piece) == .verifying
                // Who sent a piece's blocks is storage's record; here the test keeps it.
                let contributors = senders.removeValue(forKey: block.piece) ?? []
                if contributors.contains(liar) {
                    picker.pieceFailed(block.piece)
                    let update = ledger.pieceFailed(contributors: contributors)
                    for banned in update.newlyBlacklisted { leave(banned) }
                } else {
                    picker.pieceVerified(block.piece)
                    _ = ledger.pieceVerified(contributors: contributors)
                }
                #expect(verifying, "a fully written piece waits for its verdict")
            }
            // Churn: now and then an honest peer leaves and comes back.
            if random.next(upperBound: 10 as UInt64) == 0 {
                let peer = Int(random.next(upperBound: 8 as UInt64))
                if peer != liar && connected.contains(peer) {
                    leave(peer)
                    join(peer)
                }
            }
        }
        #expect(picker.isComplete, "completed in \(rounds) rounds")
        #expect(ledger.isBlacklisted(liar) || bitfields[liar]!.isNoneSet)
        #expect((0..<40).allSatisfy { picker.state(ofPiece: $0) == .have })
    }
}
