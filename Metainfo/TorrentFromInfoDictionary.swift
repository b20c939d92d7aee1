import BTBencode

extension Torrent {
    /// The torrent of an info dictionary fetched from peers (BEP 9), with the trackers and web seeds of the
    /// magnet link it was fetched for, and BEP 52 piece layers when they are known.
    ///
    /// The bytes are checked against the magnet's info-hashes first (``InfoHashes/isHash(ofInfoDictionary:)``),
    /// then parsed exactly as the info dictionary of a .torrent file; ``infoBytes`` keeps them verbatim, so
    /// ``encoded()`` writes a complete .torrent with the same info-hash (the `--save-torrent` file). Each `tr`
    /// becomes a tier of its own, as libtorrent adds a magnet's trackers. `pieceLayers` are checked as a
    /// .torrent's `piece layers` are (each must hash up to its file's pieces root).
    /// - Throws: ``MetainfoError`` (`.infoHashMismatch` when the bytes are not the magnet's info dictionary,
    ///   `.invalidBencode` when they are not exactly one bencoded dictionary, or any parser error).
    public init(
        infoDictionary: [UInt8], magnet: MagnetLink, pieceLayers: [[UInt8]: [UInt8]] = [:]
    ) throws(MetainfoError) {
        guard magnet.infoHashes.isHash(ofInfoDictionary: infoDictionary) else {
            throw MetainfoError(
                .infoHashMismatch, "the info dictionary's hash is not the magnet's info-hash \(magnet.infoHashes)")
        }
        try self.init(
            infoDictionary: infoDictionary, trackers: magnet.trackers.map { [$0] }, webSeeds: magnet.webSeeds,
            pieceLayers: pieceLayers)
    }

    /// A torrent from the exact bytes of an info dictionary, with tracker tiers, web seeds and piece layers
    /// given separately (the keys a .torrent file keeps outside `info`).
    /// - Throws: ``MetainfoError`` when the bytes are not exactly one bencoded dictionary, or the dictionary
    ///   or a piece layer is refused by the parser.
    public init(
        infoDictionary: [UInt8], trackers: [[String]] = [], webSeeds: [String] = [],
        pieceLayers: [[UInt8]: [UInt8]] = [:]
    ) throws(MetainfoError) {
        // The bytes must be one dictionary and nothing else: trailing bytes would otherwise be read as
        // top-level keys of the wrapper below (a peer could smuggle in `piece layers`).
        let consumed: Int
        let isDictionary: Bool
        do throws(BencodeError) {
            let decoded = try BencodeDocument.decodePrefix(infoDictionary, options: .lenient)
            consumed = decoded.consumed
            isDictionary = decoded.document.root.kind == .dictionary
        } catch {
            throw MetainfoError(.invalidBencode, "the info dictionary is not bencode: \(error)", bencode: error)
        }
        guard isDictionary, consumed == infoDictionary.count else {
            throw MetainfoError(.invalidField, "the info dictionary is not exactly one bencoded dictionary")
        }
        var wrapper: [UInt8] = Array("d4:info".utf8) + infoDictionary
        if !pieceLayers.isEmpty {
            let entries = pieceLayers.map {
                BencodeDictionary.Entry(key: ArraySlice($0.key), value: .bytes($0.value[...]))
            }
            wrapper += BencodeValue.string("piece layers").encoded()
            wrapper += BencodeValue.dictionary(BencodeDictionary(entries)).encoded()
        }
        wrapper.append(UInt8(ascii: "e"))
        var torrent = try TorrentParser.parse(wrapper)
        if !pieceLayers.isEmpty && torrent.pieceLayers.count != pieceLayers.count {
            throw MetainfoError(.invalidPieceLayers, "some piece layers belong to no file of this torrent")
        }
        torrent.announceTiers = trackers.map { $0.filter { !$0.isEmpty } }.filter { !$0.isEmpty }
        torrent.webSeeds = webSeeds
        self = torrent
    }
}
