import Crypto

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// BEP 33's bloom filter of peer addresses: 2,048 bits (256 bytes), two bits per address taken from the
/// SHA-1 of its bytes (4 for IPv4, 16 for IPv6). A `get_peers` with `scrape` = 1 is answered with one for
/// the seeds (`BFsd`) and one for the downloaders (`BFpe`); the requester ORs the filters of every node it
/// asked and estimates how many distinct addresses went into them (``estimatedCount``).
public struct ScrapeBloomFilter: Hashable, Sendable {
    /// Size on the wire (BEP 33: m = 2048 bits).
    public static let byteCount = 256
    static let bitCount = byteCount * 8

    /// The filter's bytes, bit `i` at byte `i / 8`, bit `i % 8` (the least significant bit first).
    public private(set) var bytes: [UInt8]

    /// An empty filter.
    public init() {
        bytes = [UInt8](repeating: 0, count: Self.byteCount)
    }

    /// A filter received on the wire; nil unless it is exactly 256 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    /// Adds an address.
    public mutating func insert(_ ip: DHTEndpoint.IP) {
        let hash = Array(Insecure.SHA1.hash(data: ip.bytes))
        // BEP 33: index1 = first two bytes, index2 = the next two, both little-endian, modulo m.
        let first = (Int(hash[0]) | Int(hash[1]) << 8) % Self.bitCount
        let second = (Int(hash[2]) | Int(hash[3]) << 8) % Self.bitCount
        bytes[first / 8] |= 1 << UInt8(first % 8)
        bytes[second / 8] |= 1 << UInt8(second % 8)
    }

    /// Merges another node's filter into this one (bitwise OR), as a requester does with every answer.
    public mutating func formUnion(_ other: ScrapeBloomFilter) {
        for index in bytes.indices { bytes[index] |= other.bytes[index] }
    }

    /// BEP 33's estimate of the number of distinct addresses inserted:
    /// `ln(c / m) / (k · ln(1 − 1/m))` with k = 2 and c the number of zero bits (at most m − 1).
    public var estimatedCount: Double {
        let zeros = bytes.reduce(0) { $0 + (8 - $1.nonzeroBitCount) }
        let m = Double(Self.bitCount)
        let c = Double(min(zeros, Self.bitCount - 1))
        return log(c / m) / (2 * log(1 - 1 / m))
    }
}
