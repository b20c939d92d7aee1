import BTBencode
import BTMetainfo

/// The address type PEX used before it moved to BTMetainfo's `PeerEndpoint`, the project's one endpoint type.
@available(*, deprecated, renamed: "PeerEndpoint")
public typealias PeerAddress = PeerEndpoint

extension PeerEndpoint {
    /// Compact form (BEP 11, BEP 23): address bytes then big-endian port.
    var compact: [UInt8] { address.bytes + [UInt8(port >> 8), UInt8(port & 0xff)] }

    /// Whether the address is IPv4 (``IPAddress/v4(_:)``).
    var isV4: Bool {
        if case .v4 = address { return true }
        return false
    }
}

/// A BEP 11 `ut_pex` message: peers added (with flags) and dropped since the previous message.
public struct PEXMessage: Hashable, Sendable {
    /// IPv4 peers added (`added`; an IPv6 endpoint placed here is encoded in `added6` instead).
    public var added: [PeerEndpoint]
    /// One flag byte per `added` peer (`added.f`: 0x01 prefers encryption, 0x02 seed, 0x04 uTP,
    /// 0x08 holepunch, 0x10 reachable).
    public var addedFlags: [UInt8]
    /// IPv6 peers added (`added6`).
    public var added6: [PeerEndpoint]
    /// Flags for `added6` (`added6.f`).
    public var added6Flags: [UInt8]
    /// IPv4 peers dropped (`dropped`).
    public var dropped: [PeerEndpoint]
    /// IPv6 peers dropped (`dropped6`).
    public var dropped6: [PeerEndpoint]

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
        added: [PeerEndpoint] = [], addedFlags: [UInt8] = [], added6: [PeerEndpoint] = [], added6Flags: [UInt8] = [],
        dropped: [PeerEndpoint] = [], dropped6: [PeerEndpoint] = []
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
        func peers(_ key: String, size: Int) throws(WireError) -> [PeerEndpoint] {
            guard let node = root[key] else { return [] }
            guard let bytes = node.bytes, bytes.count % (size + 2) == 0 else {
                throw WireError(.invalidExtensionPayload, "ut_pex `\(key)` is not a list of \(size + 2)-byte peers")
            }
            let count = bytes.count / (size + 2)
            guard count <= limits.maxPeersPerList else {
                throw WireError(.extensionLimitExceeded, "ut_pex `\(key)` lists \(count) peers")
            }
            var result: [PeerEndpoint] = []
            result.reserveCapacity(count)
            var index = bytes.startIndex
            for _ in 0..<count {
                let ip = Array(bytes[index..<(index + size)])
                let port = UInt16(bytes[index + size]) << 8 | UInt16(bytes[index + size + 1])
                result.append(PeerEndpoint(address: IPAddress(bytes: ip)!, port: port))
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
    /// always sends. Each endpoint goes to the list of its family whichever list holds it (a flag follows its
    /// peer; missing flags are written as 0 when flags are written at all), so the compact strings are
    /// always whole 6- or 18-byte entries.
    public func encoded() -> [UInt8] {
        var v4: [(PeerEndpoint, UInt8?)] = []
        var v6: [(PeerEndpoint, UInt8?)] = []
        for (index, peer) in added.enumerated() {
            let flag = index < addedFlags.count ? addedFlags[index] : nil
            if peer.isV4 { v4.append((peer, flag)) } else { v6.append((peer, flag)) }
        }
        for (index, peer) in added6.enumerated() {
            let flag = index < added6Flags.count ? added6Flags[index] : nil
            if peer.isV4 { v4.append((peer, flag)) } else { v6.append((peer, flag)) }
        }
        func compact(_ list: [PeerEndpoint]) -> BencodeValue { .bytes(ArraySlice(list.flatMap(\.compact))) }
        func flags(_ list: [(PeerEndpoint, UInt8?)]) -> BencodeValue? {
            // Flags are written up to the last peer that has one, as the decoder read them.
            guard let last = list.lastIndex(where: { $0.1 != nil }) else { return nil }
            return .bytes(ArraySlice(list[...last].map { $0.1 ?? 0 }))
        }
        var dictionary = BencodeDictionary()
        dictionary["added"] = compact(v4.map(\.0))
        if let f = flags(v4) { dictionary["added.f"] = f }
        if !v6.isEmpty { dictionary["added6"] = compact(v6.map(\.0)) }
        if let f = flags(v6) { dictionary["added6.f"] = f }
        dictionary["dropped"] = compact((dropped + dropped6).filter(\.isV4))
        let dropped6 = (dropped + dropped6).filter { !$0.isV4 }
        if !dropped6.isEmpty { dictionary["dropped6"] = compact(dropped6) }
        return BencodeValue.dictionary(dictionary).encoded()
    }
}
