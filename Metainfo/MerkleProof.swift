import Crypto

/// BEP 52 proofs: a run of hashes from one layer of a file's merkle tree plus the "uncle" hashes that lead
/// from the run up to the file's pieces root, as `hashes` messages carry them.
extension MerkleTree {
    /// The number of uncle hashes that follow `length` base-layer hashes in a `hashes` message asking for
    /// `proofLayers` proof layers: the run covers log2(length) layers above its base itself, so one uncle is
    /// sent for each remaining layer (libtorrent's rule: `proof_layers - (log2(length) - 1)`, at least 0).
    package static func proofHashCount(length: Int, proofLayers: Int) -> Int {
        let covered = length <= 1 ? 0 : (Int.bitWidth - (length - 1).leadingZeroBitCount)
        return max(0, proofLayers - covered + 1)
    }

    /// The root reached from `hashes` (flat, a power-of-two count of 32-byte hashes, the run starting at
    /// `index` of its layer, `index` a multiple of the count) and `uncles` (flat, lowest layer first).
    package static func root(ofRun hashes: [UInt8], index: Int, uncles: [UInt8]) -> [UInt8] {
        let count = hashes.count / hashSize
        precondition(count > 0 && count.nonzeroBitCount == 1 && hashes.count % hashSize == 0)
        var node = root(ofLayer: hashes, pad: [UInt8](repeating: 0, count: hashSize))
        var position = index / count
        var offset = 0
        while offset + hashSize <= uncles.count {
            let uncle = uncles[offset..<(offset + hashSize)]
            var hasher = SHA256()
            if position % 2 == 0 {
                hasher.update(data: node)
                hasher.update(data: uncle)
            } else {
                hasher.update(data: uncle)
                hasher.update(data: node)
            }
            node = Array(hasher.finalize())
            position /= 2
            offset += hashSize
        }
        return node
    }

    /// Every layer of the tree above `base` (flat hashes of one layer), padded to `width` nodes (a power of
    /// two) with `pad`, the hash of an all-zero subtree at the base's level: element 0 is the padded base,
    /// the last element is the root alone.
    package static func layers(above base: [UInt8], width: Int, pad: [UInt8]) -> [[UInt8]] {
        precondition(width > 0 && width.nonzeroBitCount == 1 && base.count <= width * hashSize)
        var level = base
        var padding = pad
        while level.count < width * hashSize { level += padding }
        var result = [level]
        while level.count > hashSize {
            var next: [UInt8] = []
            next.reserveCapacity(level.count / 2)
            var offset = 0
            while offset < level.count {
                var hasher = SHA256()
                hasher.update(data: level[offset..<(offset + 2 * hashSize)])
                next.append(contentsOf: hasher.finalize())
                offset += 2 * hashSize
            }
            padding = sha256(padding + padding)
            level = next
            result.append(level)
        }
        return result
    }
}
