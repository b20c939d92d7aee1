import NIOCore

/// The BEP 44 items stored at this node, bounded in count (libtorrent's `dht_max_dht_items`: 700) and
/// expiring after `lifetime` (BEP 44: at least two hours) unless put again.
public struct ItemStore: Sendable {
    /// Most items stored.
    public let maximumItems: Int
    /// How long an item lives without a new put.
    public let lifetime: TimeAmount
    var items: [NodeID: (item: DHTItem, expiry: NIODeadline)] = [:]

    /// Creates an empty store.
    public init(maximumItems: Int = 700, lifetime: TimeAmount = .hours(2)) {
        self.maximumItems = max(1, maximumItems)
        self.lifetime = lifetime
    }

    /// Number of items stored.
    public var count: Int { items.count }

    /// The item stored under `target`, if it has not expired.
    public func item(_ target: NodeID, now: NIODeadline) -> DHTItem? {
        guard let entry = items[target], entry.expiry > now else { return nil }
        return entry.item
    }

    /// Stores `item`; when full, the item closest to expiry gives way.
    public mutating func put(_ item: DHTItem, now: NIODeadline) {
        let target = item.target
        if items[target] == nil, items.count >= maximumItems,
            let oldest = items.min(by: { ($0.value.expiry, $0.key) < ($1.value.expiry, $1.key) })
        {
            items[oldest.key] = nil
        }
        items[target] = (item, now + lifetime)
    }

    /// Drops expired items.
    public mutating func expire(now: NIODeadline) {
        items = items.filter { $0.value.expiry > now }
    }
}
