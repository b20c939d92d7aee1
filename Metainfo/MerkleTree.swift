import Crypto

/// BEP 52 merkle hashing: SHA-256 over 16 KiB blocks, trees padded to a power of two.
///
/// Hashes are handled as flat byte arrays, 32 bytes per hash, to avoid one allocation per node.
package enum MerkleTree {
    /// Size of a merkle leaf block (BEP 52).
    package static let blockSize = 16_384
    /// Size of one hash.
    package static let hashSize = 32

    /// SHA-256 of `bytes`.
    @inline(__always)
    package static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        Array(SHA256.hash(data: Array(bytes)))
    }

    /// The root of a subtree of `2^levels` all-zero leaves (BEP 52 pads trees with zero leaf hashes).
    package static func padHash(levels: Int) -> [UInt8] {
        var hash = [UInt8](repeating: 0, count: hashSize)
        for _ in 0..<max(0, levels) { hash = sha256(hash + hash) }
        return hash
    }

    /// Number of tree levels between a piece's hash and its leaf blocks.
    package static func levels(perPiece pieceLength: Int) -> Int {
        (pieceLength / blockSize).trailingZeroBitCount
    }

    /// The root over `hashes` (flat, 32 bytes each, at least one), padding the level to a power of two
    /// with `pad`, the hash of an all-zero subtree at the level of `hashes`.
    package static func root(ofLayer hashes: [UInt8], pad: [UInt8]) -> [UInt8] {
        precondition(hashes.count >= hashSize && hashes.count % hashSize == 0)
        var level = hashes
        var padding = pad
        var count = level.count / hashSize
        while count > 1 {
            var next: [UInt8] = []
            next.reserveCapacity((count + 1) / 2 * hashSize)
            var index = 0
            while index < count {
                var hasher = SHA256()
                hasher.update(data: level[(index * hashSize)..<(index * hashSize + hashSize)])
                if index + 1 < count {
                    hasher.update(data: level[((index + 1) * hashSize)..<((index + 1) * hashSize + hashSize)])
                } else {
                    hasher.update(data: padding)
                }
                next.append(contentsOf: hasher.finalize())
                index += 2
            }
            padding = sha256(padding + padding)
            level = next
            count = (count + 1) / 2
        }
        return level
    }

    /// Hashes of the 16 KiB blocks of `data` (the last block may be short and is hashed as is).
    package static func blockHashes(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((data.count + blockSize - 1) / blockSize * hashSize)
        var offset = 0
        while offset < data.count {
            let end = min(offset + blockSize, data.count)
            out.append(contentsOf: SHA256.hash(data: UnsafeRawBufferPointer(rebasing: data[offset..<end])))
            offset = end
        }
        return out
    }

    /// The piece-layer hash of one piece of a file larger than a piece: the root of its block hashes padded
    /// with zero leaves to the piece's full block count.
    package static func pieceHash(blockHashes: [UInt8], pieceLength: Int) -> [UInt8] {
        let blocksPerPiece = pieceLength / blockSize
        var padded = blockHashes
        let have = blockHashes.count / hashSize
        if have < blocksPerPiece {
            padded.append(contentsOf: [UInt8](repeating: 0, count: (blocksPerPiece - have) * hashSize))
        }
        return root(ofLayer: padded, pad: [UInt8](repeating: 0, count: hashSize))
    }

    /// The pieces root of a file that fits in one piece: the root of its block hashes padded with zero
    /// leaves to the next power of two (not to the piece size).
    package static func smallFileRoot(blockHashes: [UInt8]) -> [UInt8] {
        root(ofLayer: blockHashes, pad: [UInt8](repeating: 0, count: hashSize))
    }
}
