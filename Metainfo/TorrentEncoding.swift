import BTBencode

extension Torrent {
    /// The .torrent file for this torrent: ``infoBytes`` verbatim (so the info-hashes do not change) plus the
    /// top-level keys (`announce`, `announce-list`, `comment`, `created by`, `creation date`, `encoding`,
    /// `nodes`, `piece layers`, `url-list`), keys in canonical order.
    ///
    /// `announce` is the first tracker; `announce-list` is written when there is more than one tracker, as
    /// libtorrent does.
    public func encoded() -> [UInt8] {
        var entries: [(key: String, value: [UInt8])] = []
        func add(_ key: String, _ value: BencodeValue) { entries.append((key, value.encoded())) }
        if let first = announceTiers.first?.first { add("announce", .string(first)) }
        if announceTiers.joined().count > 1 {
            add("announce-list", .list(announceTiers.map { .list($0.map { .string($0) }) }))
        }
        if let comment { add("comment", .string(comment)) }
        if let createdBy { add("created by", .string(createdBy)) }
        if let creationDate { add("creation date", .integer(creationDate)) }
        if let encoding { add("encoding", .string(encoding)) }
        entries.append(("info", infoBytes))
        if !dhtNodes.isEmpty {
            add("nodes", .list(dhtNodes.map { .list([.string($0.host), .integer(Int64($0.port))]) }))
        }
        // libtorrent writes `piece layers` for every v2 torrent, empty when no file spans two pieces.
        if version != .v1 || !pieceLayers.isEmpty {
            let layers = pieceLayers.map {
                BencodeDictionary.Entry(key: ArraySlice($0.key), value: .bytes($0.value[...]))
            }
            add("piece layers", .dictionary(BencodeDictionary(layers)))
        }
        if webSeeds.count == 1 {
            add("url-list", .string(webSeeds[0]))
        } else if !webSeeds.isEmpty {
            add("url-list", .list(webSeeds.map { .string($0) }))
        }
        entries.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var out: [UInt8] = [UInt8(ascii: "d")]
        for entry in entries {
            out.append(contentsOf: String(entry.key.utf8.count).utf8)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: entry.key.utf8)
            out.append(contentsOf: entry.value)
        }
        out.append(UInt8(ascii: "e"))
        return out
    }
}
