import BTMetainfo

/// An inclusive range of addresses of one family.
public struct IPRange: Hashable, Sendable, CustomStringConvertible {
    /// First address in the range.
    public let lower: IPAddress
    /// Last address in the range (inclusive).
    public let upper: IPAddress

    /// A range from `lower` through `upper`; both must be of the same family and `lower <= upper`.
    public init(lower: IPAddress, upper: IPAddress) throws(EngineError) {
        guard lower.bitWidth == upper.bitWidth else {
            throw EngineError(.invalidRange, "\(lower) and \(upper) are of different address families")
        }
        guard lower <= upper else { throw EngineError(.invalidRange, "\(lower) is after \(upper)") }
        self.lower = lower
        self.upper = upper
    }

    /// The block `address/prefixLength`; host bits set in `address` are ignored (lists often have them).
    public init(address: IPAddress, prefixLength: Int) throws(EngineError) {
        guard (0...address.bitWidth).contains(prefixLength) else {
            throw EngineError(.invalidRange, "prefix length \(prefixLength) out of range for \(address)")
        }
        switch address {
        case .v4(let value):
            let mask: UInt32 = prefixLength == 0 ? 0 : ~0 << UInt32(32 - prefixLength)
            self.lower = .v4(value & mask)
            self.upper = .v4(value | ~mask)
        case .v6(let high, let low):
            func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? ~0 : ~0 << UInt64(64 - bits) }
            let highMask = mask(prefixLength)
            let lowMask = mask(prefixLength - 64)
            self.lower = .v6(high: high & highMask, low: low & lowMask)
            self.upper = .v6(high: high | ~highMask, low: low | ~lowMask)
        }
    }

    /// Parses `a.b.c.d`, `a.b.c.d/n`, `a - b` (IPv4 or IPv6, spaces around `-` allowed). IPv4 is read as
    /// block lists write it: four decimal parts, leading zeros meaning nothing
    /// (`IPAddress/TextForm/zeroPaddedDecimal`).
    public init(parsing text: some StringProtocol) throws(EngineError) {
        let text = Substring(text).trimmingSpaces
        if let slash = text.firstIndex(of: "/") {
            guard let address = IPAddress(text[..<slash].trimmingSpaces, form: .zeroPaddedDecimal) else {
                throw EngineError(.invalidAddress, "invalid address in '\(text)'")
            }
            guard let prefix = Int(text[text.index(after: slash)...].trimmingSpaces) else {
                throw EngineError(.invalidRange, "invalid prefix length in '\(text)'")
            }
            try self.init(address: address, prefixLength: prefix)
        } else if let dash = text.firstIndex(of: "-") {
            guard let lower = IPAddress(text[..<dash].trimmingSpaces, form: .zeroPaddedDecimal),
                let upper = IPAddress(text[text.index(after: dash)...].trimmingSpaces, form: .zeroPaddedDecimal)
            else { throw EngineError(.invalidAddress, "invalid address in '\(text)'") }
            try self.init(lower: lower, upper: upper)
        } else {
            guard let address = IPAddress(text, form: .zeroPaddedDecimal) else {
                throw EngineError(.invalidAddress, "invalid address '\(text)'")
            }
            try self.init(lower: address, upper: address)
        }
    }

    /// Whether `address` (same family) lies in the range.
    public func contains(_ address: IPAddress) -> Bool { lower <= address && address <= upper }

    /// `lower-upper`.
    public var description: String { "\(lower)-\(upper)" }
}

/// Decides which peer addresses we may talk to: a static list of blocked ranges plus an optional user hook
/// (the seed's `ip_filter` event, whose false return refuses a peer before a handshake is sent).
///
/// Ranges are kept sorted and merged, so a lookup is a binary search. IPv6 addresses embedding an IPv4
/// address are checked as that IPv4 address too.
public struct IPFilter: Sendable {
    /// Blocked ranges, sorted and merged (overlapping and adjacent ranges of one family coalesced).
    public private(set) var blockedRanges: [IPRange] = []
    /// Called for every address the static ranges allow; returning false refuses the peer.
    public var hook: (@Sendable (PeerEndpoint) -> Bool)?

    /// A filter blocking `ranges`, consulting `hook` for everything else.
    public init(blocking ranges: [IPRange] = [], hook: (@Sendable (PeerEndpoint) -> Bool)? = nil) {
        self.hook = hook
        block(ranges)
    }

    /// A filter blocking the ranges of a text list (see ``parse(_:)``).
    public init(parsing text: some StringProtocol) throws(EngineError) {
        self.init(blocking: try Self.parse(text))
    }

    /// Adds blocked ranges.
    public mutating func block(_ ranges: [IPRange]) {
        let sorted = (blockedRanges + ranges).sorted { $0.lower < $1.lower }
        var merged: [IPRange] = []
        merged.reserveCapacity(sorted.count)
        for range in sorted {
            if let last = merged.last, last.upper.bitWidth == range.lower.bitWidth,
                range.lower <= last.upper || range.lower == last.upper.successor
            {
                if range.upper > last.upper { merged[merged.count - 1] = IPRange(unchecked: last.lower, range.upper) }
            } else {
                merged.append(range)
            }
        }
        blockedRanges = merged
    }

    /// Whether the static ranges block `address`. An IPv6 address that embeds an IPv4 one (IPv4-mapped or
    /// -compatible, NAT64, 6to4: `IPAddress/embeddedIPv4`) is blocked when either it or that IPv4 address is.
    public func isBlocked(_ address: IPAddress) -> Bool {
        if let inner = address.embeddedIPv4, isBlockedExactly(inner) { return true }
        return isBlockedExactly(address)
    }

    private func isBlockedExactly(_ address: IPAddress) -> Bool {
        var low = 0
        var high = blockedRanges.count
        while low < high {
            let mid = (low + high) / 2
            if blockedRanges[mid].lower <= address { low = mid + 1 } else { high = mid }
        }
        return low > 0 && blockedRanges[low - 1].contains(address)
    }

    /// Whether we may contact (or accept) a peer at `endpoint`: not in a blocked range and accepted by the
    /// hook, if any.
    public func allows(_ endpoint: PeerEndpoint) -> Bool {
        guard !isBlocked(endpoint.address) else { return false }
        return hook?(endpoint) ?? true
    }

    /// Parses a blocklist, one entry a line. Accepted lines:
    /// - blank lines and comments starting with `#` or `//`;
    /// - a bare range: `1.2.3.4`, `1.2.3.0/24`, `2001:db8::/32`, `1.2.3.0 - 1.2.3.255`;
    /// - P2P plaintext: `some name:1.2.3.0-1.2.3.255` (the name may itself contain colons);
    /// - eMule `ipfilter.dat`: `001.002.003.000 - 001.002.003.255 , 100 , description`, where an access
    ///   level above 127 means allowed (the line is skipped) and 127 or below means blocked.
    ///
    /// Throws ``EngineError/Code/invalidFilterLine`` (or the range's own code) with the 1-based line number
    /// of the first malformed line.
    public static func parse(_ text: some StringProtocol) throws(EngineError) -> [IPRange] {
        var ranges: [IPRange] = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = Substring(rawLine).trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("//") { continue }
            do {
                if let range = try parseLine(line) { ranges.append(range) }
            } catch {
                throw EngineError(error.code, error.reason, line: lineNumber)
            }
        }
        return ranges
    }

    private static func parseLine(_ line: Substring) throws(EngineError) -> IPRange? {
        if line.contains(",") {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count >= 2, let level = Int(fields[1].trimmingSpaces) else {
                throw EngineError(.invalidFilterLine, "expected 'first - last , level , description'")
            }
            let range = try IPRange(parsing: fields[0])
            return level > 127 ? nil : range
        }
        if let range = try? IPRange(parsing: line) { return range }
        if let colon = line.lastIndex(of: ":"), line[..<colon].contains(where: { !$0.isWhitespace }),
            let range = try? IPRange(parsing: line[line.index(after: colon)...])
        {
            return range
        }
        throw EngineError(.invalidFilterLine, "not a range, CIDR block, P2P or eMule line: '\(line)'")
    }
}

extension IPRange {
    fileprivate init(unchecked lower: IPAddress, _ upper: IPAddress) {
        self.lower = lower
        self.upper = upper
    }
}

extension IPAddress {
    /// The next address of the same family, or nil after the last one.
    fileprivate var successor: IPAddress? {
        switch self {
        case .v4(let value): return value == .max ? nil : .v4(value + 1)
        case .v6(let high, let low):
            if low != .max { return .v6(high: high, low: low + 1) }
            return high == .max ? nil : .v6(high: high + 1, low: 0)
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var result = self
        while let first = result.first, first.isWhitespace { result.removeFirst() }
        while let last = result.last, last.isWhitespace { result.removeLast() }
        return result
    }
}
