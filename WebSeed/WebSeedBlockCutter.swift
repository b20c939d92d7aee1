import BTMetainfo
import NIOCore

/// Cuts the bytes of a contiguous run of blocks, arriving in stream order in chunks of any size (HTTP body
/// parts, pad zeros), into the blocks the piece store takes.
///
/// A chunk that holds a whole block at the right place is sliced, not copied; a block split across chunks is
/// gathered into one buffer. It never holds more than one block's bytes besides the chunk being cut, and
/// never accepts more bytes than the run has.
public struct WebSeedBlockCutter: Sendable {
    /// The run's blocks, in stream order, each starting where the one before ends.
    public let blocks: [BlockRequest]
    /// Blocks emitted so far (the next one is `blocks[emitted]`).
    public private(set) var emitted = 0
    private var partial: ByteBuffer?

    /// A cutter for `blocks` (which must be contiguous in the torrent's stream, see ``isContiguous(_:in:)``).
    public init(blocks: [BlockRequest]) {
        self.blocks = blocks
    }

    /// Whether `blocks` follow each other in `layout`'s stream with no gap.
    public static func isContiguous(_ blocks: [BlockRequest], in layout: PieceLayout) -> Bool {
        zip(blocks, blocks.dropFirst()).allSatisfy { a, b in
            layout.offset(ofPiece: a.piece) + Int64(a.offset + a.length)
                == layout.offset(ofPiece: b.piece) + Int64(b.offset)
        }
    }

    /// Bytes the run still needs.
    public var remainingBytes: Int {
        blocks[emitted...].reduce(0) { $0 + $1.length } - (partial?.readableBytes ?? 0)
    }

    /// Takes the next `chunk` of the run's bytes and returns the blocks it completes.
    /// - Throws: ``WebSeedError`` with code ``WebSeedError/Code/wrongLength`` when the chunk goes past the run.
    public mutating func append(_ chunk: ByteBuffer) throws(WebSeedError) -> [(BlockRequest, ByteBuffer)] {
        guard chunk.readableBytes <= remainingBytes else {
            throw WebSeedError(.wrongLength, "\(chunk.readableBytes) bytes arrived where \(remainingBytes) were left")
        }
        var chunk = chunk
        var out: [(BlockRequest, ByteBuffer)] = []
        while chunk.readableBytes > 0 {
            let block = blocks[emitted]
            if var gathered = partial {
                partial = nil  // one owner while it grows, or the write below would copy it
                let take = min(block.length - gathered.readableBytes, chunk.readableBytes)
                var piece = chunk.readSlice(length: take)!
                gathered.writeBuffer(&piece)
                if gathered.readableBytes == block.length {
                    out.append((block, gathered))
                    emitted += 1
                    partial = nil
                } else {
                    partial = gathered
                }
            } else if chunk.readableBytes >= block.length {
                out.append((block, chunk.readSlice(length: block.length)!))
                emitted += 1
            } else {
                var gathered = ByteBuffer()
                gathered.reserveCapacity(block.length)
                gathered.writeBuffer(&chunk)
                partial = gathered
            }
        }
        return out
    }

    /// Whether every block was emitted.
    public var isComplete: Bool { emitted == blocks.count }
}
