import BTStorage

extension BlockWriteResult {
    /// The result without a failed piece's block evidence, whose hashes depend on the random payload.
    var withoutBlocks: BlockWriteResult {
        if case .pieceFailed(let piece, let peers, _) = self { return .pieceFailed(piece: piece, peers: peers) }
        return self
    }

    /// The sender of each block of a failed piece, as its evidence names them (nil for other results).
    var failedBlockSenders: [PeerTag]? {
        if case .pieceFailed(_, _, let blocks) = self { return blocks?.senders }
        return nil
    }
}
