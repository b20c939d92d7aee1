/// Which files of a v2 or hybrid torrent can have their pieces checked with the SHA-256 piece layers.
///
/// BEP 52 keeps `piece layers` outside the info dictionary, so a torrent stripped of them (or metadata fetched
/// from peers) has the same info-hash but no per-piece hashes for files larger than a piece. A hybrid can still
/// check every piece with its v1 SHA-1 hashes; a v2-only torrent cannot, and must not blame peers for pieces
/// it has no hash for.
extension Torrent {
    /// Indices into ``files`` of the non-pad files larger than a piece whose piece layer is missing.
    /// Always empty for v1 torrents.
    public var filesMissingPieceLayers: [Int] {
        guard version != .v1 else { return [] }
        return files.indices.filter { index in
            let file = files[index]
            guard !file.isPadFile, file.length > Int64(pieceLength), let root = file.piecesRoot else { return false }
            return pieceLayers[root] == nil
        }
    }

    /// Throws ``MetainfoError/Code/missingPieceLayers`` when some piece of this torrent has no hash to be
    /// checked against: a v2-only torrent missing piece layers. v1 and hybrid torrents always pass (a hybrid
    /// checks with its SHA-1 hashes where layers are missing). Call before downloading or seeding.
    public func requireAllPieceHashes() throws(MetainfoError) {
        guard version == .v2 else { return }
        let missing = filesMissingPieceLayers
        guard let first = missing.first else { return }
        throw MetainfoError(
            .missingPieceLayers,
            "this v2-only torrent has no piece layers for \(missing.count) file(s) larger than a piece "
                + "(\(files[first].path.joined(separator: "/")) is one): its pieces cannot be checked; "
                + "use the complete .torrent file")
    }
}
