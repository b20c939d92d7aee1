import BTBencode

/// A peer's address as PEX and compact tracker responses carry it: 4 or 16 address bytes and a port.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 bytes (IPv6), network order.
    public let ip: [UInt8]
    /// TCP port.
    public let port: UInt16

    /// Creates an address; `ip` must be 4 or 16 bytes.
    public init?(ip: [UInt8], port: UInt16) {
        guard ip.count == 4 || ip.count == 16 else { return nil }
        self.ip = ip
        self.port = port
    }

    /// Whether this is an IPv4 address.
    public var isIPv4: Bool { ip.count == 4 }

    /// `1.2.3.4:6881` or `[2001:db8::1]:6881` (IPv6 shown as eight uncompressed groups).
    public var description: String {
        if isIPv4 { return ip.map(String.init).joined(separator: ".") + ":\(port)" }
        let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(ip[$0]) << 8 | UInt16(ip[$0 + 1]), radix: 16) }
        return "[\(groups.joined(separator: ":"))]:\(port)"
    }

    /// Compact form: address bytes then big-endian port.
    var compact: [UInt8] { ip + [UInt8(port >> 8), UInt8(port & 0xff)] }
}

/// A BEP 11 `ut_pex` message: peers added (with flags) and dropped since the previous message.
public struct PEXMessage: Hashable, Sendable {
    /// IPv4 peers added (`added`).
    public var added: [PeerAddress]
    /// One flag byte per `added` peer (`added.f`: 0x01 prefers encryption, 0x02 seed, 0x04 uTP,
    /// 0x08 holepunch, 0x10 reachable).
    public var addedFlags: [UInt8]
    /// IPv6 peers added (`added6`).
    public var added6: [PeerAddress]
    /// Flags for `added6` (`added6.f`).
    public var added6Flags: [UInt8]
    /// IPv4 peers dropped (`dropped`).
    public var dropped: [PeerAddress]
    /// IPv6 peers dropped (`dropped6`).
    public var dropped6: [PeerAddress]

    /// Limits applied when decoding.
    public struct Limits: Hashable, Sendable {
        /// Largest payload accepted.
        public var maxPayloadLength: Int
        /// Most peers accepted in any one list (BEP 11 asks senders for at most 50 per message).
        public var maxPeersPerList: Int
        /// Creates limits.
        public init(maxPayloadLength: Int = 64 * 1024, maxPeersPerList: Int = 200) {
            self.maxPayloadLength = maxPayloadLength
            self.maxPeersPerList = maxPeersPerList
        }
    }

    /// Creates a message.
    public init(
        added: [PeerAddress] = [], addedFlags: [UInt8] = [], added6: [PeerAddress] = [], added6Flags: [UInt8] = [],
        dropped: [PeerAddress] = [], dropped6: [PeerAddress] = []
    ) {
        self.added = added
        self.addedFlags = addedFlags
        self.added6 = added6
        self.added6Flags = added6Flags
        self.dropped = dropped
        self.dropped6 = dropped6
    }

    /// Decodes a payload. Compact lists must be whole multiples of 6 (IPv4) or 18 (IPv6) bytes; flag strings
    /// longer than their list are rejected; a list over the limit throws.
    public init(decoding payload: some Collection<UInt8>, limits: Limits = Limits()) throws(WireError) {
        guard payload.count <= limits.maxPayloadLength else {
            throw WireError(.extensionLimitExceeded, "ut_pex payload of \(payload.count) bytes")
        }
        let root = try ExtensionCodec.dictionary(payload, what: "ut_pex")
        func peers(_ key: String, size: Int) throws(WireError) -> [PeerAddress] {
            guard let node = root[key] else { return [] }
            guard let bytes = node.bytes, bytes.count % (size + 2) == 0 else {
                throw WireError(.invalidExtensionPayload, "ut_pex `\(key)` is not a list of \(size + 2)-byte peers")
            }
            let count = bytes.count / (size + 2)
            guard count <= limits.maxPeersPerList else {
                throw WireError(.extensionLimitExceeded, "ut_pex `\(key)` lists \(count) peers")
            }
            var result: [PeerAddress] = []
            result.reserveCapacity(count)
            var index = bytes.startIndex
            for _ in 0..<count {
                let ip = Array(bytes[index..<(index + size)])
                let port = UInt16(bytes[index + size]) << 8 | UInt16(bytes[index + size + 1])
                result.append(PeerAddress(ip: ip, port: port)!)
                index += size + 2
            }
            return result
        }
        func flags(_ key: String, count: Int) throws(WireError) -> [UInt8] {
            guard let node = root[key] else { return [] }
            guard let bytes = node.bytes, bytes.count <= count else {
                throw WireError(.invalidExtensionPayload, "ut_pex `\(key)` has more flags than peers")
            }
            return Array(bytes)
        }
        let added = try peers("added", size: 4)
        let added6 = try peers("added6", size: 16)
        self.init(
            added: added, addedFlags: try flags("added.f", count: added.count), added6: added6,
            added6Flags: try flags("added6.f", count: added6.count), dropped: try peers("dropped", size: 4),
            dropped6: try peers("dropped6", size: 16))
    }

    /// Canonical bencoded payload. Empty lists are omitted except `added` and `dropped`, which libtorrent
    /// always sends.
    public func encoded() -> [UInt8] {
        func compact(_ list: [PeerAddress]) -> BencodeValue { .bytes(ArraySlice(list.flatMap(\.compact))) }
        var dictionary = BencodeDictionary()
        dictionary["added"] = compact(added)
        if !addedFlags.isEmpty { dictionary["added.f"] = .bytes(ArraySlice(addedFlags)) }
        if !added6.isEmpty { dictionary["added6"] = compact(added6) }
        if !added6Flags.isEmpty { dictionary["added6.f"] = .bytes(ArraySlice(added6Flags)) }
        dictionary["dropped"] = compact(dropped)
        if !dropped6.isEmpty { dictionary["dropped6"] = compact(dropped6) }
        return BencodeValue.dictionary(dictionary).encoded()
    }
}
