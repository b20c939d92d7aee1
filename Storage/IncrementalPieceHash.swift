import Crypto

/// The running SHA-1 of a piece's leading bytes, fed with each block as it is written, so a piece whose
/// blocks arrived in order is verified without reading it back from disk (re-reading and hashing every
/// completed piece was a sixth of the downloader's CPU time). v1 torrents only: v2 merkle leaves are
/// hashed from the bytes read back.
///
/// Only bytes that were written without error are fed in, in piece order. When a block arrives out of
/// order the hash stalls at `next`; when the piece completes, only its bytes from `next` on are read back
/// and fed in.
///
/// The unchecked `Sendable` is sound because `Insecure.SHA1` is a value type (swift-crypto copies its
/// context on write, `isKnownUniquelyReferenced`) and a hash is only ever used by one batch at a time:
/// ``PieceStore`` checks it out to a worker and takes it back.
struct IncrementalPieceHash: @unchecked Sendable {
    /// SHA-1 over bytes `0..<next` of the piece.
    var hasher = Insecure.SHA1()
    /// The offset of the next byte to feed.
    var next = 0
    /// The finished digest, once `next` reached the piece's size.
    var digest: [UInt8]?

    /// Feeds `buffers` (back to back from `offset`) when they continue the hash; finishes it at `size`.
    mutating func feed(offset: Int, _ buffers: [UnsafeRawBufferPointer], pieceSize: Int) {
        guard digest == nil, offset == next else { return }
        for buffer in buffers {
            hasher.update(bufferPointer: buffer)
            next += buffer.count
        }
        if next == pieceSize { digest = Array(hasher.finalize()) }
    }
}
