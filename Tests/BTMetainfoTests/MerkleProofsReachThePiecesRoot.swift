import Testing

@testable import BTMetainfo

/// BEP 52 proofs: any aligned run of a layer plus its uncles hashes to the root, and the uncle count follows
/// libtorrent's rule.
@Suite struct MerkleProofsReachThePiecesRoot {
    @Test func everyAlignedRunWithItsUnclesGivesTheRoot() {
        let pieces = 11
        let layer = (0..<pieces).flatMap { MerkleTree.sha256([UInt8($0)]) }
        let pad = MerkleTree.padHash(levels: 2)
        let root = MerkleTree.root(ofLayer: layer, pad: pad)
        let levels = MerkleTree.layers(above: layer, width: 16, pad: pad)
        #expect(levels.count == 5 && levels.last! == root)
        for length in [1, 2, 4, 8, 16] {
            for index in stride(from: 0, to: 16, by: length) {
                let run = Array(levels[0][(index * 32)..<((index + length) * 32)])
                var uncles: [UInt8] = []
                var position = index / length
                for level in length.trailingZeroBitCount..<4 {
                    uncles += levels[level][((position ^ 1) * 32)..<((position ^ 1) * 32 + 32)]
                    position /= 2
                }
                #expect(MerkleTree.root(ofRun: run, index: index, uncles: uncles) == root)
                #expect(MerkleTree.proofHashCount(length: length, proofLayers: 3) == uncles.count / 32)
                var bad = uncles
                if !bad.isEmpty {
                    bad[0] ^= 1
                    #expect(MerkleTree.root(ofRun: run, index: index, uncles: bad) != root)
                }
            }
        }
    }
}
