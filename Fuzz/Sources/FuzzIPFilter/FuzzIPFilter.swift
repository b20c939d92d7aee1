import BTEngine
import BTMetainfo

/// IP filter lists (blocklists: a file, or what the daemon's `blocklist-update` downloads from a URL), parsed by
/// `IPFilter.parse`: never crash; every range parsed has its lower bound at or below its upper one, and the
/// filter built from them blocks both bounds of each, and no address next to a range that no range holds
/// (the merge of overlapping and adjacent ranges loses nothing and adds nothing).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let ranges = try? IPFilter.parse(text) else { return 0 }
    let filter = IPFilter(blocking: ranges)
    for range in ranges {
        guard range.lower <= range.upper, range.lower.bitWidth == range.upper.bitWidth else {
            fatalError("range \(range) is upside down or mixes families")
        }
        guard filter.isBlocked(range.lower), filter.isBlocked(range.upper) else {
            fatalError("the filter lets a bound of \(range) through")
        }
    }
    // The merged ranges are sorted and apart (a gap of at least one address between two of one family).
    for (a, b) in zip(filter.blockedRanges, filter.blockedRanges.dropFirst()) where a.upper.bitWidth == b.lower.bitWidth
    {
        guard a.upper < b.lower, !(b.lower.isSuccessor(of: a.upper)) else {
            fatalError("merged ranges \(a) and \(b) overlap or touch")
        }
    }
    // The address after each range is blocked only when some parsed range holds it (checked without embedded
    // IPv4 addresses, which the filter also looks at).
    for range in ranges {
        guard let next = range.upper.next, next.embeddedIPv4 == nil else { continue }
        let held = ranges.contains { $0.contains(next) }
        guard filter.isBlocked(next) == held else {
            fatalError("\(next) after \(range) is \(held ? "let through" : "blocked") wrongly")
        }
    }
    return 0
}

extension IPAddress {
    /// The next address of the same family, or nil after the last one.
    var next: IPAddress? {
        switch self {
        case .v4(let value): return value == .max ? nil : .v4(value + 1)
        case .v6(let high, let low):
            if low != .max { return .v6(high: high, low: low + 1) }
            return high == .max ? nil : .v6(high: high + 1, low: 0)
        }
    }

    /// Whether this address comes right after `other`.
    func isSuccessor(of other: IPAddress) -> Bool { other.next == self }
}
