import BTMetainfo

/// Answering BEP 52 hash requests from the piece layers we know, without I/O.
///
/// A request for a file we have the piece layer of, at the piece layer or above, within the tree, with a
/// proof no higher than the root, is answered with the hashes and the uncles up to the file's `pieces root`
/// (the tree above the piece layer is computed once per file and kept). Anything else gets a `hash reject`:
/// unknown roots, files without a known layer, the block layers below the piece layer (their hashes come
/// from the data: see ``pieceForBlockRequest(_:)`` and ``answer(_:pieceBlockHashes:)``), and requests outside
/// the tree (libtorrent's `validate_hash_request`).
///
/// ```swift
/// var server = PieceLayerServe(torrent: torrent)
/// switch server.answer(request) {
/// case .hashes(let message): send(.hashes(message))
/// case .reject(let request): send(.hashReject(request))
/// }
/// ```
public struct PieceLayerServe: Sendable {
    /// The answer to a hash request.
    public enum Answer: Hashable, Sendable {
        /// The hashes asked for, with their proof.
        case hashes(HashesMessage)
        /// The request is refused (send it back as a `hash reject`).
        case reject(HashRequest)
    }

    /// A file's layer and, once computed, the tree above it.
    struct FileTree: Sendable {
        let layer: [UInt8]
        let width: Int
        var levels: [[UInt8]]?
    }

    /// Where a v2 file starts (its first piece in the torrent) and its length, for block-layer requests.
    struct FilePlace: Sendable {
        let firstPiece: Int
        let length: Int64
    }

    /// The torrent's piece layer (log2 of piece length / 16 KiB).
    public let pieceLayer: Int
    var trees: [[UInt8]: FileTree] = [:]
    var places: [[UInt8]: FilePlace] = [:]

    /// A server for the piece layers of `torrent` (those it has; more can be added with
    /// ``addLayer(_:piecesRoot:)``).
    public init(torrent: Torrent) {
        pieceLayer = MerkleTree.levels(perPiece: torrent.pieceLength)
        for (root, layer) in torrent.pieceLayers { addLayer(layer, piecesRoot: root) }
        let layout = torrent.layout
        for file in layout.files where !file.isPadFile && file.length > 0 {
            guard let root = file.piecesRoot, root.count == 32, file.offset % Int64(layout.pieceLength) == 0,
                places[root] == nil
            else { continue }
            places[root] = FilePlace(firstPiece: Int(file.offset / Int64(layout.pieceLength)), length: file.length)
        }
    }

    /// Adds a verified piece layer (for example one ``PieceLayerFetch`` obtained).
    public mutating func addLayer(_ layer: [UInt8], piecesRoot: [UInt8]) {
        let pieces = layer.count / MerkleTree.hashSize
        guard pieces > 0, layer.count % MerkleTree.hashSize == 0 else { return }
        var width = 1
        while width < pieces { width <<= 1 }
        trees[piecesRoot] = FileTree(layer: layer, width: width, levels: nil)
    }

    /// Answers a request.
    public mutating func answer(_ request: HashRequest) -> Answer {
        guard (try? request.validated()) != nil, var tree = trees[request.piecesRoot] else { return .reject(request) }
        let height = tree.width.trailingZeroBitCount
        let above = request.baseLayer - pieceLayer
        // The tree's layers from the piece layer up: `height` of them below the root. As libtorrent, the root
        // layer itself is not served, and a proof stops below it.
        guard above >= 0, above < height, request.proofLayers < height - above else {
            return .reject(request)
        }
        if tree.levels == nil {
            tree.levels = MerkleTree.layers(
                above: tree.layer, width: tree.width, pad: MerkleTree.padHash(levels: pieceLayer))
            trees[request.piecesRoot] = tree
        }
        let levels = tree.levels!
        let level = levels[above]
        let levelWidth = level.count / MerkleTree.hashSize
        guard request.index + request.length <= levelWidth else { return .reject(request) }
        let hashes = Array(level[(request.index * 32)..<((request.index + request.length) * 32)])
        var uncles: [UInt8] = []
        let runLayers = request.length.trailingZeroBitCount
        var position = request.index / request.length
        for offset in 0..<request.proofHashCount {
            let layerIndex = above + runLayers + offset
            guard layerIndex < levels.count - 1 else { return .reject(request) }
            let sibling = position ^ 1
            uncles += levels[layerIndex][(sibling * 32)..<(sibling * 32 + 32)]
            position /= 2
        }
        return .hashes(HashesMessage(request: request, baseHashes: hashes, uncles: uncles))
    }
}
