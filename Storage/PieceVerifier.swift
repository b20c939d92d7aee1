import BTMetainfo
import Crypto

/// Checks a piece's bytes against the torrent's hashes: SHA-1 for v1 (BEP 3), the SHA-256 merkle tree for
/// v2 (BEP 52), both for hybrid torrents.
///
/// For v2 a piece belongs to exactly one file (files are piece-aligned). Its bytes are cut into 16 KiB
/// blocks, each hashed to a leaf; the leaves are combined pairwise up to the piece's entry in the file's
/// piece layer. Leaves past the end of the file are zero hashes (BEP 52). A file no longer than one piece
/// has no piece layer: its whole tree (leaves padded to a power of two) must give its pieces root. A hybrid
/// whose piece layers are missing is checked with its v1 SHA-1 hashes alone for the files that lack one.
public struct PieceVerifier: Sendable {
    /// The v2 merkle tree's leaf size.
    public static let blockSize = 16 * 1024

    private let layout: PieceLayout
    private let v1Hashes: [UInt8]
    private let pieceLayers: [[UInt8]: [UInt8]]
    private let checksV2: Bool

    /// A verifier for `torrent`'s pieces.
    public init(torrent: Torrent) {
        layout = torrent.layout
        v1Hashes = torrent.version == .v2 ? [] : torrent.pieceHashes
        pieceLayers = torrent.pieceLayers
        checksV2 = torrent.version != .v1
    }

    /// Whether `data` (the piece's full bytes, pad bytes as zeros) is piece `piece`.
    public func verify(piece: Int, data: UnsafeRawBufferPointer) -> Bool {
        guard piece >= 0 && piece < layout.pieceCount, data.count == layout.size(ofPiece: piece) else { return false }
        if !v1Hashes.isEmpty || !checksV2 {
            guard (piece + 1) * 20 <= v1Hashes.count else { return false }
            let digest = Insecure.SHA1.hash(data: data)
            guard digest.elementsEqual(v1Hashes[(piece * 20)..<(piece * 20 + 20)]) else { return false }
        }
        if checksV2 {
            return verifyV2(piece: piece, data: data)
        }
        return true
    }

    private func verifyV2(piece: Int, data: UnsafeRawBufferPointer) -> Bool {
        let pieceOffset = layout.offset(ofPiece: piece)
        let index = layout.fileIndex(containing: pieceOffset)
        guard index < layout.files.count else { return false }
        let file = layout.files[index]
        guard !file.isPadFile, let root = file.piecesRoot, root.count == 32,
            (pieceOffset - file.offset) % Int64(layout.pieceLength) == 0
        else { return false }
        let fileBytes = Int(min(Int64(data.count), file.offset + file.length - pieceOffset))
        let content = UnsafeRawBufferPointer(rebasing: data[0..<fileBytes])
        // Bytes of the piece past the file's end must be padding (zeros), or the piece is not this file's.
        if fileBytes < data.count, data[fileBytes...].contains(where: { $0 != 0 }) { return false }
        if file.length <= Int64(layout.pieceLength) {
            let blocks = (Int(file.length) + Self.blockSize - 1) / Self.blockSize
            let rootHash = Self.merkleRoot(of: content, leafCount: Self.powerOfTwo(atLeast: max(1, blocks)))
            return rootHash == root
        }
        // Without the file's piece layer (stripped from the .torrent, BEP 52 keeps it outside the info
        // dictionary) a hybrid's SHA-1 above is the check; a v2-only torrent cannot get here (PieceStore
        // refuses it up front), and answers false rather than true.
        guard let layer = pieceLayers[root] else { return !v1Hashes.isEmpty }
        let indexInFile = Int((pieceOffset - file.offset) / Int64(layout.pieceLength))
        guard (indexInFile + 1) * 32 <= layer.count else { return false }
        let leaves = layout.pieceLength / Self.blockSize
        return Self.merkleRoot(of: content, leafCount: leaves)[...]
            == layer[(indexInFile * 32)..<(indexInFile * 32 + 32)]
    }

    /// True when only SHA-1 hashes are checked (v1 torrents): pieces can then be hashed chunk by chunk.
    package var isV1Only: Bool { !checksV2 }

    /// Whether `digest` is the SHA-1 of piece `piece` (v1 torrents).
    package func matchesV1(piece: Int, digest: Insecure.SHA1.Digest) -> Bool {
        guard piece >= 0, (piece + 1) * 20 <= v1Hashes.count else { return false }
        return digest.elementsEqual(v1Hashes[(piece * 20)..<(piece * 20 + 20)])
    }

    /// Whether `digest` (20 bytes) is the SHA-1 of piece `piece` (v1 torrents).
    package func matchesV1(piece: Int, digest: [UInt8]) -> Bool {
        guard piece >= 0, (piece + 1) * 20 <= v1Hashes.count else { return false }
        return digest.elementsEqual(v1Hashes[(piece * 20)..<(piece * 20 + 20)])
    }

    /// Smallest power of two `>= n`.
    package static func powerOfTwo(atLeast n: Int) -> Int {
        var value = 1
        while value < n { value <<= 1 }
        return value
    }

    /// Merkle root over `data` cut in 16 KiB leaves, padded with zero hashes to `leafCount` leaves.
    package static func merkleRoot(of data: UnsafeRawBufferPointer, leafCount: Int) -> [UInt8] {
        var level: [[UInt8]] = []
        level.reserveCapacity(leafCount)
        var offset = 0
        while offset < data.count {
            let end = min(offset + blockSize, data.count)
            level.append(Array(SHA256.hash(data: UnsafeRawBufferPointer(rebasing: data[offset..<end]))))
            offset = end
        }
        while level.count < leafCount { level.append([UInt8](repeating: 0, count: 32)) }
        while level.count > 1 {
            var next: [[UInt8]] = []
            next.reserveCapacity(level.count / 2)
            for pair in stride(from: 0, to: level.count, by: 2) {
                var hasher = SHA256()
                hasher.update(data: level[pair])
                hasher.update(data: level[pair + 1])
                next.append(Array(hasher.finalize()))
            }
            level = next
        }
        return level.first ?? [UInt8](repeating: 0, count: 32)
    }
}
