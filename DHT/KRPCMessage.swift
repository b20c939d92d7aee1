/// Which address families a requester wants nodes for (BEP 32 `want`: `n4`, `n6`).
public struct KRPCWant: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `n4`: compact IPv4 nodes in `nodes`.
    public static let ipv4 = KRPCWant(rawValue: 1)
    /// `n6`: compact IPv6 nodes in `nodes6`.
    public static let ipv6 = KRPCWant(rawValue: 2)
}

/// A KRPC query's method and arguments (BEP 5, BEP 32 `want`, BEP 51 `sample_infohashes`).
public enum KRPCQuery: Hashable, Sendable {
    /// `ping` (BEP 5).
    case ping
    /// `find_node` (BEP 5): the nodes closest to `target`.
    case findNode(target: NodeID, want: KRPCWant)
    /// `get_peers` (BEP 5): peers for `infoHash`, or the closest nodes, and a token for announcing; `noSeed`
    /// leaves seeds out and `scrape` asks for BEP 33's bloom filters instead of peers.
    case getPeers(infoHash: NodeID, want: KRPCWant, noSeed: Bool, scrape: Bool = false)
    /// `announce_peer` (BEP 5): the sender downloads `infoHash` on `port` (or on the UDP source port when
    /// `impliedPort` is set), proven by the `token` a `get_peers` returned.
    case announcePeer(infoHash: NodeID, port: UInt16, token: [UInt8], impliedPort: Bool, seed: Bool)
    /// `sample_infohashes` (BEP 51): a sample of the info-hashes the node stores, and nodes near `target`.
    case sampleInfohashes(target: NodeID, want: KRPCWant)
    /// `get` (BEP 44): the item stored under `target` (only if newer than `sequence`, for mutable items).
    case get(target: NodeID, sequence: Int64?)
    /// `put` (BEP 44): store `item`, proven by a `get` token; `cas` makes a mutable put conditional on the
    /// stored sequence number.
    case put(token: [UInt8], item: DHTItem, cas: Int64?)
    /// A method this module does not know (its name's bytes, which need not be UTF-8); BEP 5 answers it
    /// with error 204.
    case unknown(method: [UInt8])

    /// The method name on the wire.
    public var method: [UInt8] {
        if case .unknown(let bytes) = self { return bytes }
        return Array(knownMethod.utf8)
    }

    var knownMethod: String {
        switch self {
        case .ping: "ping"
        case .findNode: "find_node"
        case .getPeers: "get_peers"
        case .announcePeer: "announce_peer"
        case .sampleInfohashes: "sample_infohashes"
        case .get: "get"
        case .put: "put"
        case .unknown: ""
        }
    }
}

/// A KRPC query message (`y` = `q`).
public struct KRPCQueryMessage: Hashable, Sendable {
    /// The transaction id chosen by the querier, echoed in the reply.
    public var transactionID: [UInt8]
    /// The querying node's id (`a.id`).
    public var senderID: NodeID
    /// The method and its arguments.
    public var query: KRPCQuery
    /// BEP 43: the sender is read-only and must not be added to routing tables.
    public var readOnly: Bool
    /// The client version string (`v`), if any.
    public var version: [UInt8]?

    /// Creates a query message.
    public init(
        transactionID: [UInt8], senderID: NodeID, query: KRPCQuery, readOnly: Bool = false, version: [UInt8]? = nil
    ) {
        self.transactionID = transactionID
        self.senderID = senderID
        self.query = query
        self.readOnly = readOnly
        self.version = version
    }
}

/// The arguments of a KRPC response (`r`). Which keys are present depends on the query answered, which the
/// receiver knows from the transaction id, so one type holds them all.
public struct KRPCResponse: Hashable, Sendable {
    /// The responding node's id.
    public var senderID: NodeID
    /// Compact IPv4 nodes (`nodes`).
    public var nodes: [DHTNodeInfo]
    /// Compact IPv6 nodes (`nodes6`, BEP 32).
    public var nodes6: [DHTNodeInfo]
    /// Peers (`values`) of a `get_peers` response.
    public var values: [DHTEndpoint]
    /// The token to announce with (`token`) of a `get_peers` response.
    public var token: [UInt8]?
    /// BEP 51: seconds before the sample may change (`interval`).
    public var interval: Int?
    /// BEP 51: how many info-hashes the node stores (`num`).
    public var storedCount: Int?
    /// BEP 51: sampled info-hashes (`samples`).
    public var samples: [NodeID]
    /// BEP 44: the item of a `get` response (`v`, and `k`, `sig`, `seq` for a mutable one). It is not
    /// verified here: the salt needed to check a mutable target is known only to the requester.
    public var item: DHTItem?
    /// BEP 44: the sequence number of a mutable item whose value was left out (`seq` without `v`).
    public var sequence: Int64?
    /// BEP 33: the bloom filter of the seeds' addresses (`BFsd`) of a scrape.
    public var seedsFilter: ScrapeBloomFilter?
    /// BEP 33: the bloom filter of the downloaders' addresses (`BFpe`) of a scrape.
    public var downloadersFilter: ScrapeBloomFilter?

    /// Creates a response.
    public init(
        senderID: NodeID, nodes: [DHTNodeInfo] = [], nodes6: [DHTNodeInfo] = [], values: [DHTEndpoint] = [],
        token: [UInt8]? = nil, interval: Int? = nil, storedCount: Int? = nil, samples: [NodeID] = []
    ) {
        self.senderID = senderID
        self.nodes = nodes
        self.nodes6 = nodes6
        self.values = values
        self.token = token
        self.interval = interval
        self.storedCount = storedCount
        self.samples = samples
        self.item = nil
        self.sequence = nil
        self.seedsFilter = nil
        self.downloadersFilter = nil
    }
}

/// A KRPC response message (`y` = `r`).
public struct KRPCResponseMessage: Hashable, Sendable {
    /// The transaction id of the query answered.
    public var transactionID: [UInt8]
    /// The response arguments.
    public var response: KRPCResponse
    /// BEP 42: the requester's address as the responder saw it (`ip`).
    public var requesterAddress: DHTEndpoint?
    /// The client version string (`v`), if any.
    public var version: [UInt8]?

    /// Creates a response message.
    public init(
        transactionID: [UInt8], response: KRPCResponse, requesterAddress: DHTEndpoint? = nil,
        version: [UInt8]? = nil
    ) {
        self.transactionID = transactionID
        self.response = response
        self.requesterAddress = requesterAddress
        self.version = version
    }
}

/// A KRPC error message (`y` = `e`, BEP 5: `e` = [code, message]).
public struct KRPCErrorMessage: Hashable, Sendable {
    /// The transaction id of the query refused.
    public var transactionID: [UInt8]
    /// The error code (201 generic, 202 server, 203 protocol, 204 method unknown).
    public var code: Int
    /// The human message.
    public var message: String
    /// The client version string (`v`), if any.
    public var version: [UInt8]?

    /// BEP 5 201: generic error.
    public static let generic = 201
    /// BEP 5 202: server error.
    public static let server = 202
    /// BEP 5 203: protocol error (malformed packet, invalid arguments, bad token).
    public static let protocolError = 203
    /// BEP 5 204: method unknown.
    public static let methodUnknown = 204
    /// BEP 44 205: message (`v`) too big.
    public static let valueTooBig = 205
    /// BEP 44 206: invalid signature.
    public static let invalidSignature = 206
    /// BEP 44 207: salt too big.
    public static let saltTooBig = 207
    /// BEP 44 301: the CAS hash mismatched.
    public static let casMismatch = 301
    /// BEP 44 302: sequence number less than current.
    public static let sequenceTooOld = 302

    /// Creates an error message.
    public init(transactionID: [UInt8], code: Int, message: String, version: [UInt8]? = nil) {
        self.transactionID = transactionID
        self.code = code
        self.message = message
        self.version = version
    }
}

/// One KRPC message (BEP 5): a query, a response or an error.
public enum KRPCMessage: Hashable, Sendable {
    /// `y` = `q`.
    case query(KRPCQueryMessage)
    /// `y` = `r`.
    case response(KRPCResponseMessage)
    /// `y` = `e`.
    case error(KRPCErrorMessage)

    /// The transaction id.
    public var transactionID: [UInt8] {
        switch self {
        case .query(let m): m.transactionID
        case .response(let m): m.transactionID
        case .error(let m): m.transactionID
        }
    }
}
