/// An IPv4 or IPv6 address, as a number so that ranges can be compared: the one address type of every
/// NetBitTorrent module (tracker address policy, IP filter, reputation, peer endpoints).
///
/// IPv4 addresses sort before IPv6 ones; within a family the order is numeric. IPv6 addresses that embed an
/// IPv4 address (``embeddedIPv4``) are distinct values; ``unmapped`` turns `::ffff:a.b.c.d` into IPv4 so
/// filters and reputation see one peer as one address.
///
/// Text is read by one parser, ``init(_:form:)``. Its default form reads a host exactly as the system
/// resolver does (`getaddrinfo`: `inet_aton` for IPv4, so `012.0.0.1` is octal 10.0.0.1 and `0x7f.1` is
/// 127.0.0.1; `inet_pton` for IPv6), so a security decision made on the parsed address is a decision about
/// the address the resolver would connect to. Connect to ``description`` (or ``bytes``), never to the
/// original text.
///
/// ```swift
/// let address = IPAddress("012.0.0.1")!  // .v4(0x0A00_0001)
/// print(address)  // 10.0.0.1
/// ```
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// An IPv4 address, most significant byte first (`1.2.3.4` is `0x0102_0304`).
    case v4(UInt32)
    /// An IPv6 address as two 64-bit halves, most significant first.
    case v6(high: UInt64, low: UInt64)

    /// The ways address text is written.
    public enum TextForm: Sendable, Hashable {
        /// A host as the system resolver reads it: IPv4 in every `inet_aton` form (one to four parts, each
        /// decimal, `0`-prefixed octal or `0x`-prefixed hexadecimal; `127.1`, `2130706433`, `0x7f000001`,
        /// `0177.0.0.1`), IPv6 as `inet_pton` reads it (RFC 4291 section 2.2: `::` compression and a trailing
        /// dotted quad). No brackets, zone suffixes or surrounding spaces.
        case host
        /// The dotted decimal of IP block lists (P2P and eMule `ipfilter.dat`): exactly four decimal parts,
        /// leading zeros allowed and meaning nothing (`001.009.096.105` is 1.9.96.105), or IPv6 as for
        /// ``host``. Never use it for a host to be resolved or contacted.
        case zeroPaddedDecimal
    }

    /// Parses address text in `form` (by default as the system resolver reads a numeric host). Nil for
    /// anything else.
    public init?(_ text: some StringProtocol, form: TextForm = .host) {
        let utf8 = Array(text.utf8)
        if utf8.contains(UInt8(ascii: ":")) {
            guard let (high, low) = Self.parseV6(utf8[...]) else { return nil }
            self = .v6(high: high, low: low)
            return
        }
        let v4: UInt32?
        switch form {
        case .host: v4 = Self.parseInetAton(utf8[...])
        case .zeroPaddedDecimal: v4 = Self.parseZeroPaddedDecimal(utf8[...])
        }
        guard let v4 else { return nil }
        self = .v4(v4)
    }

    /// An address from its network-order bytes: 4 for IPv4, 16 for IPv6; nil for any other count.
    public init?(bytes: some Collection<UInt8>) {
        let bytes = Array(bytes)
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16:
            self = .v6(
                high: bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) },
                low: bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        default:
            return nil
        }
    }

    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value):
            return (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) }
        case .v6(let high, let low):
            return (0..<16).map { index in
                let half = index < 8 ? high : low
                return UInt8(truncatingIfNeeded: half >> (56 - 8 * UInt64(index % 8)))
            }
        }
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`); otherwise `self`.
    public var unmapped: IPAddress {
        if case .v6(0, let low) = self, low >> 32 == 0xffff { return .v4(UInt32(truncatingIfNeeded: low)) }
        return self
    }

    /// The IPv4 address an IPv6 address stands for, if it embeds one: IPv4-mapped `::ffff:a.b.c.d`,
    /// IPv4-compatible `::a.b.c.d` (RFC 4291 section 2.5.5; not `::` or `::1`), NAT64 `64:ff9b::a.b.c.d`
    /// (RFC 6052 well-known prefix, /96) and 6to4 `2002:aabb:ccdd::/48` (RFC 3056). Traffic to these reaches
    /// (or is translated to) that IPv4 host, so security decisions must classify them by it. Nil for IPv4
    /// addresses and other IPv6 addresses.
    public var embeddedIPv4: IPAddress? {
        guard case .v6(let high, let low) = self else { return nil }
        let last32 = UInt32(truncatingIfNeeded: low)
        if high == 0 && low >> 32 == 0xffff { return .v4(last32) }
        if high == 0 && low >> 32 == 0 && last32 > 1 { return .v4(last32) }
        if high == 0x0064_ff9b_0000_0000 && low >> 32 == 0 { return .v4(last32) }
        if high >> 48 == 0x2002 { return .v4(UInt32(truncatingIfNeeded: high >> 16)) }
        return nil
    }

    /// Number of bits in the address (32 or 128).
    public var bitWidth: Int {
        switch self {
        case .v4: return 32
        case .v6: return 128
        }
    }

    /// Dotted quad for IPv4; RFC 5952 text (lower case, longest run of two or more zero groups compressed)
    /// for IPv6, with IPv4-mapped addresses as `::ffff:a.b.c.d`. Parsing it as ``TextForm/host`` gives the
    /// same address back.
    public var description: String {
        switch self {
        case .v4(let value):
            return (0..<4).map { String((value >> (24 - 8 * UInt32($0))) & 0xff) }.joined(separator: ".")
        case .v6(let high, let low):
            if case .v4(let inner) = unmapped { return "::ffff:" + IPAddress.v4(inner).description }
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
}

extension IPAddress {
    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// IPv4 exactly as glibc's `__inet_aton_exact` (what `getaddrinfo` tries first) reads it: one to four
    /// parts separated by dots; each part starts with a digit and is read as C's `strtoul(_, _, 0)` reads it
    /// (`0x` hexadecimal, `0` octal, else decimal); every part but the last is at most 255, the last fills the
    /// remaining bytes (`a.b.c` gives c 16 bits, `a.b` 24, `a` all 32); nothing may follow. Any number of
    /// leading zeros, as glibc takes them (a length cap made us refuse what the resolver connects to; the read
    /// is linear, and a part's value is checked as it grows).
    static func parseInetAton(_ text: ArraySlice<UInt8>) -> UInt32? {
        guard !text.isEmpty else { return nil }
        var parts: [UInt64] = []
        var index = text.startIndex
        while true {
            guard index < text.endIndex, isDigit(text[index]) else { return nil }
            var base: UInt64 = 10
            if text[index] == UInt8(ascii: "0") {
                base = 8
                let next = text.index(after: index)
                // strtoul reads "0x" as hexadecimal only when a hex digit follows; otherwise it reads the "0".
                if next < text.endIndex, text[next] | 0x20 == UInt8(ascii: "x"),
                    next + 1 < text.endIndex, hexValue(text[next + 1]) != nil
                {
                    base = 16
                    index = next + 1
                }
            }
            var value: UInt64 = 0
            while index < text.endIndex, let digit = hexValue(text[index]), UInt64(digit) < base {
                value = value * base + UInt64(digit)
                guard value <= 0xffff_ffff else { return nil }
                index += 1
            }
            parts.append(value)
            guard index < text.endIndex else { break }
            guard text[index] == UInt8(ascii: "."), parts.count < 4 else { return nil }
            index += 1
        }
        let last = parts.removeLast()
        guard parts.allSatisfy({ $0 <= 0xff }) else { return nil }
        let lastBits = 32 - 8 * parts.count
        guard last < UInt64(1) << lastBits else { return nil }
        var value = UInt64(0)
        for part in parts { value = value << 8 | part }
        return UInt32(value << lastBits | last)
    }

    /// Exactly four decimal parts of one to three digits, each at most 255 (leading zeros allowed).
    static func parseZeroPaddedDecimal(_ text: ArraySlice<UInt8>) -> UInt32? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(isDigit) else { return nil }
            let byte = part.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - UInt8(ascii: "0")) }
            guard byte <= 255 else { return nil }
            value = value << 8 | byte
        }
        return value
    }

    /// A dotted quad as glibc's `inet_pton4` reads it (the IPv4 tail of IPv6 text): four decimal parts, each
    /// at most 255, no leading zeros.
    static func parseStrictDottedQuad(_ text: ArraySlice<UInt8>) -> UInt32? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(isDigit),
                part.count == 1 || part.first != UInt8(ascii: "0")
            else { return nil }
            let byte = part.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - UInt8(ascii: "0")) }
            guard byte <= 255 else { return nil }
            value = value << 8 | byte
        }
        return value
    }

    /// IPv6 text as glibc's `inet_pton6` reads it: groups of one to four hex digits, at most one `::`
    /// standing for one or more zero groups, and optionally a dotted quad (``parseStrictDottedQuad(_:)``)
    /// in place of the last two groups.
    static func parseV6(_ text: ArraySlice<UInt8>) -> (UInt64, UInt64)? {
        guard text.count >= 2, text.count <= 45 else { return nil }
        func groups(_ part: ArraySlice<UInt8>, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if allowV4Tail && index == pieces.count - 1 && piece.contains(UInt8(ascii: ".")) {
                    guard let v4 = parseStrictDottedQuad(piece) else { return nil }
                    result.append(UInt16(v4 >> 16))
                    result.append(UInt16(v4 & 0xffff))
                } else {
                    guard (1...4).contains(piece.count) else { return nil }
                    var group: UInt16 = 0
                    for byte in piece {
                        guard let digit = hexValue(byte) else { return nil }
                        group = group << 4 | UInt16(digit)
                    }
                    result.append(group)
                }
            }
            return result
        }
        var all: [UInt16]
        let colon = UInt8(ascii: ":")
        if let start = text.indices.dropLast().first(where: { text[$0] == colon && text[$0 + 1] == colon }) {
            let head = text[..<start]
            let tail = text[(start + 2)...]
            guard !tail.indices.dropLast().contains(where: { tail[$0] == colon && tail[$0 + 1] == colon }),
                let first = groups(head, allowV4Tail: false),
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
