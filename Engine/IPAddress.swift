/// An IPv4 or IPv6 address, as a number so that ranges can be compared.
///
/// IPv4 addresses sort before IPv6 ones; within a family the order is numeric. IPv4-mapped IPv6 addresses
/// (`::ffff:a.b.c.d`) are distinct values; ``unmapped`` turns them into IPv4 so filters and reputation see
/// one peer as one address.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// An IPv4 address, most significant byte first (`1.2.3.4` is `0x0102_0304`).
    case v4(UInt32)
    /// An IPv6 address as two 64-bit halves, most significant first.
    case v6(high: UInt64, low: UInt64)

    /// Parses dotted-quad IPv4 (leading zeros allowed, as in eMule lists: `001.009.096.105`) or IPv6 text
    /// (RFC 4291 section 2.2: `::` compression and a trailing dotted quad). Nil for anything else,
    /// including zone suffixes and brackets.
    public init?(_ text: some StringProtocol) {
        if let v4 = Self.parseV4(Substring(text)) {
            self = .v4(v4)
        } else if let (high, low) = Self.parseV6(Substring(text)) {
            self = .v6(high: high, low: low)
        } else {
            return nil
        }
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`); otherwise `self`.
    public var unmapped: IPAddress {
        if case .v6(0, let low) = self, low >> 32 == 0xffff { return .v4(UInt32(truncatingIfNeeded: low)) }
        return self
    }

    /// Number of bits in the address (32 or 128).
    public var bitWidth: Int {
        switch self {
        case .v4: return 32
        case .v6: return 128
        }
    }

    /// Dotted quad for IPv4; RFC 5952 text (lower case, longest zero run compressed) for IPv6.
    public var description: String {
        switch self {
        case .v4(let value):
            return (0..<4).map { String((value >> (24 - 8 * UInt32($0))) & 0xff) }.joined(separator: ".")
        case .v6(let high, let low):
            let groups = (0..<8).map { index -> UInt16 in
                let half = index < 4 ? high : low
                return UInt16(truncatingIfNeeded: half >> (48 - 16 * UInt64(index % 4)))
            }
            var bestStart = -1
            var bestLength = 1
            var index = 0
            while index < 8 {
                guard groups[index] == 0 else {
                    index += 1
                    continue
                }
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index > bestLength {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            }
            let hex = groups.map { String($0, radix: 16) }
            guard bestStart >= 0 else { return hex.joined(separator: ":") }
            let head = hex[..<bestStart].joined(separator: ":")
            let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
            return head + "::" + tail
        }
    }

    /// Orders IPv4 before IPv6, then numerically.
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        case (.v6(let ah, let al), .v6(let bh, let bl)): return ah < bh || (ah == bh && al < bl)
        }
    }

    static func parseV4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                let byte = UInt32(part), byte <= 255
            else { return nil }
            value = value << 8 | byte
        }
        return value
    }

    static func parseV6(_ text: Substring) -> (UInt64, UInt64)? {
        guard text.count >= 2, text.count <= 45, text.allSatisfy({ $0.isASCII }) else { return nil }
        func groups(_ part: Substring, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if allowV4Tail && index == pieces.count - 1 && piece.contains(".") {
                    guard let v4 = parseV4(piece) else { return nil }
                    result.append(UInt16(v4 >> 16))
                    result.append(UInt16(v4 & 0xffff))
                } else {
                    guard (1...4).contains(piece.count), let group = UInt16(piece, radix: 16) else { return nil }
                    result.append(group)
                }
            }
            return result
        }
        var all: [UInt16]
        if let range = text.firstRange(of: "::") {
            let head = text[..<range.lowerBound]
            let tail = text[range.upperBound...]
            guard !tail.contains("::"), let first = groups(head, allowV4Tail: false),
                let last = groups(tail, allowV4Tail: true), first.count + last.count <= 7
            else { return nil }
            all = first + [UInt16](repeating: 0, count: 8 - first.count - last.count) + last
        } else {
            guard let only = groups(text, allowV4Tail: true), only.count == 8 else { return nil }
            all = only
        }
        let high = all[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = all[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return (high, low)
    }
}

/// An address and port: where a peer listens or connects from.
public struct PeerEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// The peer's IP address.
    public let address: IPAddress
    /// The peer's TCP (or uTP) port.
    public let port: UInt16

    /// Creates an endpoint.
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `1.2.3.4:6881` or `[2001:db8::1]:6881`.
    public var description: String {
        switch address {
        case .v4: return "\(address):\(port)"
        case .v6: return "[\(address)]:\(port)"
        }
    }
}
