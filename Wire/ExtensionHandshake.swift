import BTBencode

/// The BEP 10 extension handshake (extended message id 0): which extensions the sender speaks and under
/// which message ids, plus a few facts about the sender.
///
/// Unknown keys are ignored on decoding; encoding is canonical bencode (sorted keys).
public struct ExtensionHandshake: Hashable, Sendable {
    /// Extension name to the id the sender wants to receive it under (`m`); id 0 means "disabled".
    public var messages: [String: UInt8]
    /// Client name and version (`v`).
    public var client: String?
    /// The sender's TCP listen port (`p`).
    public var listenPort: UInt16?
    /// How many outstanding requests the sender queues (`reqq`; libtorrent's default is 250).
    public var requestQueueLength: Int?
    /// The receiver's address as the sender sees it (`yourip`: 4 or 16 bytes).
    public var yourIP: [UInt8]?
    /// The sender's IPv6 address (`ipv6`, 16 bytes).
    public var ipv6: [UInt8]?
    /// The sender's IPv4 address (`ipv4`, 4 bytes).
    public var ipv4: [UInt8]?
    /// Size of the info dictionary in bytes (BEP 9 `metadata_size`).
    public var metadataSize: Int?
    /// The sender will not download (BEP 21 `upload_only`).
    public var uploadOnly: Bool?
    /// The sender prefers encrypted connections (`e`, from Azureus/uTorrent; Transmission sends 1 when its
    /// encryption mode is preferred or required; libtorrent neither sends nor reads it, and tells it by the
    /// PEX `0x01` flag instead).
    public var prefersEncryption: Bool?

    /// Limits applied by ``init(decoding:limits:)``.
    public struct Limits: Hashable, Sendable {
        /// Largest payload accepted (bytes).
        public var maxPayloadLength: Int
        /// Most entries accepted in `m`.
        public var maxMessageEntries: Int
        /// Largest `metadata_size` accepted (bytes).
        public var maxMetadataSize: Int

        /// Creates limits; the defaults are generous for real clients and small enough to bound memory.
        public init(maxPayloadLength: Int = 64 * 1024, maxMessageEntries: Int = 128, maxMetadataSize: Int = 64 << 20) {
            self.maxPayloadLength = maxPayloadLength
            self.maxMessageEntries = maxMessageEntries
            self.maxMetadataSize = maxMetadataSize
        }
    }

    /// Creates a handshake.
    public init(
        messages: [String: UInt8] = [:], client: String? = nil, listenPort: UInt16? = nil,
        requestQueueLength: Int? = nil, yourIP: [UInt8]? = nil, ipv6: [UInt8]? = nil, ipv4: [UInt8]? = nil,
        metadataSize: Int? = nil, uploadOnly: Bool? = nil, prefersEncryption: Bool? = nil
    ) {
        self.prefersEncryption = prefersEncryption
        self.messages = messages
        self.client = client
        self.listenPort = listenPort
        self.requestQueueLength = requestQueueLength
        self.yourIP = yourIP
        self.ipv6 = ipv6
        self.ipv4 = ipv4
        self.metadataSize = metadataSize
        self.uploadOnly = uploadOnly
    }

    /// Decodes a payload (the bytes after the extended id). Wrongly typed optional fields are ignored, as
    /// real clients do; a payload that is not a bencoded dictionary, or breaks a limit, throws.
    public init(decoding payload: some Collection<UInt8>, limits: Limits = Limits()) throws(WireError) {
        guard payload.count <= limits.maxPayloadLength else {
            throw WireError(.extensionLimitExceeded, "extension handshake of \(payload.count) bytes")
        }
        let root = try ExtensionCodec.dictionary(payload, what: "extension handshake")
        self.init()
        if let m = root["m"] {
            guard m.kind == .dictionary else {
                throw WireError(.invalidExtensionPayload, "extension handshake `m` is not a dictionary")
            }
            let entries = m.entries
            guard entries.count <= limits.maxMessageEntries else {
                throw WireError(.extensionLimitExceeded, "extension handshake lists \(entries.count) extensions")
            }
            for (key, value) in entries {
                guard let name = String(validating: key, as: UTF8.self), let id = value.integer, id >= 0, id <= 255
                else { continue }
                messages[name] = UInt8(id)
            }
        }
        client = root["v"]?.string
        if let p = root["p"]?.integer, p > 0, p <= 65535 { listenPort = UInt16(p) }
        if let q = root["reqq"]?.integer, q > 0, q <= Int64(Int32.max) { requestQueueLength = Int(q) }
        if let ip = root["yourip"]?.bytes, ip.count == 4 || ip.count == 16 { yourIP = Array(ip) }
        if let ip = root["ipv6"]?.bytes, ip.count == 16 { ipv6 = Array(ip) }
        if let ip = root["ipv4"]?.bytes, ip.count == 4 { ipv4 = Array(ip) }
        if let size = root["metadata_size"]?.integer {
            guard size >= 0, size <= Int64(limits.maxMetadataSize) else {
                throw WireError(.extensionLimitExceeded, "metadata_size \(size) is out of bounds")
            }
            metadataSize = Int(size)
        }
        if let flag = root["upload_only"]?.integer { uploadOnly = flag != 0 }
        if let flag = root["e"]?.integer { prefersEncryption = flag != 0 }
    }

    /// Canonical bencoded payload.
    public func encoded() -> [UInt8] {
        var dictionary = BencodeDictionary()
        var m = BencodeDictionary()
        for (name, id) in messages { m[name] = .integer(Int64(id)) }
        dictionary["m"] = .dictionary(m)
        if let client { dictionary["v"] = .string(client) }
        if let listenPort { dictionary["p"] = .integer(Int64(listenPort)) }
        if let requestQueueLength { dictionary["reqq"] = .integer(Int64(requestQueueLength)) }
        if let yourIP { dictionary["yourip"] = .bytes(ArraySlice(yourIP)) }
        if let ipv6 { dictionary["ipv6"] = .bytes(ArraySlice(ipv6)) }
        if let ipv4 { dictionary["ipv4"] = .bytes(ArraySlice(ipv4)) }
        if let metadataSize { dictionary["metadata_size"] = .integer(Int64(metadataSize)) }
        if let uploadOnly { dictionary["upload_only"] = .integer(uploadOnly ? 1 : 0) }
        if let prefersEncryption { dictionary["e"] = .integer(prefersEncryption ? 1 : 0) }
        return BencodeValue.dictionary(dictionary).encoded()
    }

    /// Well-known extension names.
    public enum Name {
        /// BEP 11 peer exchange.
        public static let pex = "ut_pex"
        /// BEP 9 metadata exchange.
        public static let metadata = "ut_metadata"
        /// libtorrent's `lt_donthave`: the sender no longer has a piece (a 4-byte big-endian index).
        public static let donthave = "lt_donthave"
        /// libtorrent's `upload_only` message: one byte, non-zero when the sender became upload only (BEP 21).
        public static let uploadOnly = "upload_only"
    }

    /// The id we number `lt_donthave` with (libtorrent's own number for it), unless the configuration uses it.
    public static let donthaveID: UInt8 = 7
    /// The id we number libtorrent's `upload_only` message with, unless the configuration uses it.
    public static let uploadOnlyID: UInt8 = 8
}

/// Shared bencode helpers for extension payloads.
enum ExtensionCodec {
    /// Extension payloads are small: tight token and depth limits bound the work a peer can cause.
    static let options = BencodeDecodingOptions(allowUnsortedKeys: true, maxDepth: 8, maxTokens: 20_000)

    static func dictionary(_ payload: some Collection<UInt8>, what: String) throws(WireError) -> BencodeNode {
        let document: BencodeDocument
        do throws(BencodeError) {
            document = try BencodeDocument(Array(payload), options: options)
        } catch {
            throw WireError(.invalidExtensionPayload, "\(what): \(error.reason)")
        }
        guard document.root.kind == .dictionary else {
            throw WireError(.invalidExtensionPayload, "\(what) is not a bencoded dictionary")
        }
        return document.root
    }
}
