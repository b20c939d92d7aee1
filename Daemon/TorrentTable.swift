/// The daemon's torrent entries in id order, found by id and by hex info-hash in constant time (a daemon holds
/// 10,000 torrents; each RPC names some by id or hash). Stored as a JSON array of entries in id order.
struct TorrentTable: Sendable, Hashable, Sequence {
    /// The ids, ascending (ids are handed out in increasing order, so an added torrent goes at the end).
    private(set) var ids: [Int] = []
    private var entries: [Int: DaemonState.Entry] = [:]
    private var idsByHash: [String: Int] = [:]

    /// An empty table.
    init() {}

    /// A table of `entries` (a later entry with an id already present replaces the earlier one).
    init(_ entries: [DaemonState.Entry]) {
        for entry in entries { upsert(entry) }
    }

    /// How many torrents.
    var count: Int { ids.count }

    /// The entry of `id`, nil when there is none.
    subscript(id id: Int) -> DaemonState.Entry? { entries[id] }

    /// The entry of the torrent whose hex info-hash is `hash`.
    func entry(hash: String) -> DaemonState.Entry? { idsByHash[hash].flatMap { entries[$0] } }

    /// Adds `entry`, or replaces the one with its id.
    mutating func upsert(_ entry: DaemonState.Entry) {
        if let old = entries.updateValue(entry, forKey: entry.id) {
            if old.hashString != entry.hashString { idsByHash[old.hashString] = nil }
        } else if let last = ids.last, last > entry.id {
            ids.insert(entry.id, at: insertionPoint(entry.id))
        } else {
            ids.append(entry.id)
        }
        idsByHash[entry.hashString] = entry.id
    }

    /// Changes the entry of `id` in place; false when there is none.
    @discardableResult
    mutating func update(_ id: Int, _ body: (inout DaemonState.Entry) -> Void) -> Bool {
        guard var entry = entries[id] else { return false }
        body(&entry)
        upsert(entry)
        return true
    }

    /// Removes the entry of `id` and returns it.
    @discardableResult
    mutating func remove(id: Int) -> DaemonState.Entry? {
        guard let entry = entries.removeValue(forKey: id) else { return nil }
        idsByHash[entry.hashString] = nil
        let index = insertionPoint(id)
        if index < ids.count, ids[index] == id { ids.remove(at: index) }
        return entry
    }

    /// The first position whose id is not below `id` (binary search).
    private func insertionPoint(_ id: Int) -> Int {
        var low = 0
        var high = ids.count
        while low < high {
            let middle = (low + high) / 2
            if ids[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The entries in id order.
    func makeIterator() -> some IteratorProtocol<DaemonState.Entry> {
        ids.lazy.compactMap { entries[$0] }.makeIterator()
    }
}

extension TorrentTable: Codable {
    /// Reads the JSON array of entries.
    init(from decoder: any Decoder) throws {
        self.init(try [DaemonState.Entry](from: decoder))
    }

    /// Writes the entries as a JSON array in id order.
    func encode(to encoder: any Encoder) throws {
        try Array(self).encode(to: encoder)
    }
}
