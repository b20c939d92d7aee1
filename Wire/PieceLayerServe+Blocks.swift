import BTMetainfo

/// Answering BEP 52 hash requests for the block layer (base layer 0, the 16 KiB leaves), as libtorrent
/// serves the block hashes it holds. We keep no block layer: the caller reads the one piece a request
/// covers (``pieceForBlockRequest(_:)``), hashes its blocks, and ``answer(_:pieceBlockHashes:)`` builds the
/// hashes and their proof (uncles inside the piece from those hashes, above it from the piece layer's
/// tree). A request is answered only if it lies within one piece of a file we serve, so one request costs
/// at most one piece read; anything else is rejected.
extension PieceLayerServe {
    /// The torrent's piece (its index in the torrent) that a block-layer `request` covers, or nil when the
    /// request is refused: not base layer 0, an unknown root, a file whose piece layer we lack, a run that
    /// spans more than one piece or leaves the file's blocks, a proof up to or above the root.
    public func pieceForBlockRequest(_ request: HashRequest) -> Int? {
        guard request.baseLayer == 0, (try? request.validated()) != nil,
            let place = places[request.piecesRoot], let geometry = blockGeometry(of: request.piecesRoot, place)
        else { return nil }
        let fileBlocks = Int((place.length + Int64(MerkleTree.blockSize) - 1) / Int64(MerkleTree.blockSize))
        guard request.length <= geometry.runLimit, request.index < fileBlocks,
            request.index + request.length <= geometry.leafWidth,
            request.proofLayers < geometry.leafWidth.trailingZeroBitCount
        else { return nil }
        return place.firstPiece + request.index / geometry.leavesPerPiece
    }

    /// Answers a block-layer `request` from `pieceBlockHashes`, the SHA-256 of each block of the piece
    /// ``pieceForBlockRequest(_:)`` named (flat, 32 bytes each, as read from our verified data). Rejected when
    /// the request is refused or the hashes do not give the piece's hash (the data changed on disk).
    public mutating func answer(_ request: HashRequest, pieceBlockHashes: [UInt8]) -> Answer {
        guard pieceForBlockRequest(request) != nil, let place = places[request.piecesRoot],
            let geometry = blockGeometry(of: request.piecesRoot, place),
            pieceBlockHashes.count % MerkleTree.hashSize == 0,
            pieceBlockHashes.count / MerkleTree.hashSize <= geometry.leavesPerPiece, !pieceBlockHashes.isEmpty
        else { return .reject(request) }
        let zero = [UInt8](repeating: 0, count: MerkleTree.hashSize)
        let subtree = MerkleTree.layers(above: pieceBlockHashes, width: geometry.leavesPerPiece, pad: zero)
        let pieceInFile = request.index / geometry.leavesPerPiece
        let expected: [UInt8]
        if let tree = trees[request.piecesRoot] {
            guard (pieceInFile + 1) * 32 <= tree.layer.count else { return .reject(request) }
            expected = Array(tree.layer[(pieceInFile * 32)..<(pieceInFile * 32 + 32)])
        } else {
            expected = request.piecesRoot
        }
        guard subtree.last == expected else { return .reject(request) }
        let local = request.index % geometry.leavesPerPiece
        let hashes = Array(subtree[0][(local * 32)..<((local + request.length) * 32)])
        var uncles: [UInt8] = []
        let runLayers = request.length.trailingZeroBitCount
        for offset in 0..<request.proofHashCount {
            let level = runLayers + offset
            if level < subtree.count - 1 {
                let sibling = (local >> level) ^ 1
                uncles += subtree[level][(sibling * 32)..<(sibling * 32 + 32)]
                continue
            }
            // Above the piece: the piece layer's tree (this file has one, or the proof would end below).
            guard var tree = trees[request.piecesRoot] else { return .reject(request) }
            if tree.levels == nil {
                tree.levels = MerkleTree.layers(
                    above: tree.layer, width: tree.width, pad: MerkleTree.padHash(levels: pieceLayer))
                trees[request.piecesRoot] = tree
            }
            let levels = tree.levels!
            let above = level - pieceLayer
            guard above < levels.count - 1 else { return .reject(request) }
            let sibling = (request.index >> level) ^ 1
            uncles += levels[above][(sibling * 32)..<(sibling * 32 + 32)]
        }
        return .hashes(HashesMessage(request: request, baseHashes: hashes, uncles: uncles))
    }

    /// The leaf width of a file's tree, its leaves per piece, and the longest run served in one request.
    private func blockGeometry(of root: [UInt8], _ place: FilePlace) -> (
        leafWidth: Int, leavesPerPiece: Int, runLimit: Int
    )? {
        let blocksPerPiece = 1 << pieceLayer
        if place.length <= Int64(blocksPerPiece * MerkleTree.blockSize) {
            // One piece, no piece layer: the tree is its blocks padded to a power of two.
            var width = 1
            let blocks = Int((place.length + Int64(MerkleTree.blockSize) - 1) / Int64(MerkleTree.blockSize))
            while width < blocks { width <<= 1 }
            return (width, width, width)
        }
        guard let tree = trees[root] else { return nil }
        return (tree.width * blocksPerPiece, blocksPerPiece, blocksPerPiece)
    }
}
