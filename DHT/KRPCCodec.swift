import BTBencode

/// Encodes and decodes KRPC messages (BEP 5) over BTBencode, strictly and within explicit limits.
///
/// Written by hand because KRPC is a small fixed schema whose every field needs a bound and a BEP rule
/// (compact node lists, optional flags as 0/1 integers, a transaction id echoed in errors); `Codable` would
/// hide the limits and allocate for every key. Decoding is lenient only where libtorrent is (dictionary key
/// order, unknown keys ignored), so real clients interoperate.
public enum KRPCCodec {
    /// Largest datagram decoded. KRPC fits in one UDP datagram; BEP 44 values (up to 1000 bytes) are the
    /// largest legitimate payload, so 2048 leaves room without letting a message grow unbounded.
    public static let maximumMessageSize = 2048
    /// Longest transaction id accepted (libtorrent sends 2 bytes; others up to 8).
    public static let maximumTransactionIDLength = 32
    /// Longest token accepted (BEP 5 leaves the length to the issuer; libtorrent's are 4 bytes, ours 8).
    public static let maximumTokenLength = 64
    /// Most nodes accepted in `nodes` or `nodes6` (k = 8 is what anyone sends; BEP 51 allows a few more).
    public static let maximumNodes = 32
    /// Most peers accepted in `values`.
    public static let maximumValues = 256
    /// Most info-hashes accepted in BEP 51 `samples`.
    public static let maximumSamples = 100
    /// Longest `v` (version) string kept.
    public static let maximumVersionLength = 16
    /// Longest error message kept.
    public static let maximumErrorMessageLength = 256
    /// Longest query method name.
    public static let maximumMethodLength = 32

    static let options = BencodeDecodingOptions(allowUnsortedKeys: true, maxDepth: 6, maxTokens: 600)

    // MARK: Decoding

    /// Decodes one datagram.
    /// - Throws: ``DHTError`` (`.invalidBencode`, `.malformedMessage`, `.limitExceeded`).
    public static func decode(_ bytes: [UInt8]) throws(DHTError) -> KRPCMessage {
        guard bytes.count <= maximumMessageSize else {
            throw DHTError(.limitExceeded, "message of \(bytes.count) bytes exceeds \(maximumMessageSize)")
        }
        let document: BencodeDocument
        do {
            document = try BencodeDocument(bytes, options: options)
        } catch {
            throw DHTError(.invalidBencode, "\(error)")
        }
        let root = document.root
        guard root.kind == .dictionary else { throw malformed("top-level value is not a dictionary") }
        guard let t = root["t"]?.bytes else { throw malformed("missing transaction id 't'") }
        guard t.count <= maximumTransactionIDLength else {
            throw DHTError(.limitExceeded, "transaction id of \(t.count) bytes")
        }
        let transactionID = Array(t)
        let version = try optionalVersion(root["v"])
        guard let y = root["y"]?.bytes, y.count == 1 else { throw malformed("missing message type 'y'") }
        switch y.first! {
        case UInt8(ascii: "q"):
            return .query(try decodeQuery(root, transactionID: transactionID, version: version))
        case UInt8(ascii: "r"):
            guard let r = root["r"], r.kind == .dictionary else { throw malformed("response without 'r'") }
            var requester: DHTEndpoint?
            if let ip = root["ip"] {
                guard let bytes = ip.bytes, let endpoint = DHTEndpoint(compact: bytes) else {
                    throw malformed("'ip' is not a compact endpoint")
                }
                requester = endpoint
            }
            return .response(
                KRPCResponseMessage(
                    transactionID: transactionID, response: try decodeResponse(r), requesterAddress: requester,
                    version: version))
        case UInt8(ascii: "e"):
            guard let e = root["e"], e.kind == .list else { throw malformed("error without 'e' list") }
            let items = e.list.array
            guard items.count >= 2, let code = items[0].integer, let text = items[1].bytes else {
                throw malformed("'e' is not [code, message]")
            }
            guard let code = Int(exactly: code) else { throw malformed("error code out of range") }
            let message = String(decoding: text.prefix(maximumErrorMessageLength), as: UTF8.self)
            return .error(
                KRPCErrorMessage(transactionID: transactionID, code: code, message: message, version: version))
        default:
            throw malformed("unknown message type")
        }
    }

    static func malformed(_ reason: String) -> DHTError { DHTError(.malformedMessage, reason) }

    /// The transaction id of a datagram that is a query (`y` = `q`) by its envelope, even if its arguments
    /// are malformed; nil for anything else (responses, errors, garbage), which is never answered.
    static func queryTransactionID(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count <= maximumMessageSize, let document = try? BencodeDocument(bytes, options: options) else {
            return nil
        }
        let root = document.root
        guard root.kind == .dictionary, let y = root["y"]?.bytes, y.elementsEqual([UInt8(ascii: "q")]),
            let t = root["t"]?.bytes, t.count <= maximumTransactionIDLength
        else { return nil }
        return Array(t)
    }

    static func optionalVersion(_ node: BencodeNode?) throws(DHTError) -> [UInt8]? {
        guard let node else { return nil }
        guard let bytes = node.bytes else { throw malformed("'v' is not a string") }
        return Array(bytes.prefix(maximumVersionLength))
    }

    static func id(_ node: BencodeNode?, _ name: String) throws(DHTError) -> NodeID {
        guard let bytes = node?.bytes, let id = NodeID(bytes: bytes) else {
            throw malformed("'\(name)' is not a 20-byte id")
        }
        return id
    }

    static func flag(_ node: BencodeNode?, _ name: String) throws(DHTError) -> Bool {
        guard let node else { return false }
        guard let value = node.integer else { throw malformed("'\(name)' is not an integer") }
        return value != 0
    }

    static func want(_ node: BencodeNode?) throws(DHTError) -> KRPCWant {
        guard let node else { return [] }
        guard node.kind == .list, node.count <= 4 else { throw malformed("'want' is not a short list") }
        var want: KRPCWant = []
        for item in node.list {
            guard let bytes = item.bytes else { throw malformed("'want' entry is not a string") }
            if bytes.elementsEqual("n4".utf8) { want.insert(.ipv4) }
            if bytes.elementsEqual("n6".utf8) { want.insert(.ipv6) }
        }
        return want
    }

    static func decodeQuery(
        _ root: BencodeNode, transactionID: [UInt8], version: [UInt8]?
    ) throws(DHTError) -> KRPCQueryMessage {
        guard let q = root["q"]?.bytes else { throw malformed("query without method 'q'") }
        guard q.count <= maximumMethodLength else { throw DHTError(.limitExceeded, "method name too long") }
        guard let a = root["a"], a.kind == .dictionary else { throw malformed("query without arguments 'a'") }
        let sender = try id(a["id"], "id")
        let readOnly = try flag(root["ro"], "ro")
        let query: KRPCQuery
        switch String(decoding: q, as: UTF8.self) {
        case "ping":
            query = .ping
        case "find_node":
            query = .findNode(target: try id(a["target"], "target"), want: try want(a["want"]))
        case "get_peers":
            query = .getPeers(
                infoHash: try id(a["info_hash"], "info_hash"), want: try want(a["want"]),
                noSeed: try flag(a["noseed"], "noseed"), scrape: try flag(a["scrape"], "scrape"))
        case "announce_peer":
            guard let token = a["token"]?.bytes else { throw malformed("announce_peer without 'token'") }
            guard token.count <= maximumTokenLength else { throw DHTError(.limitExceeded, "token too long") }
            let implied = try flag(a["implied_port"], "implied_port")
            var port: UInt16 = 0
            if let value = a["port"]?.integer {
                guard let p = UInt16(exactly: value) else { throw malformed("'port' out of range") }
                port = p
            } else if !implied {
                throw malformed("announce_peer without 'port'")
            }
            query = .announcePeer(
                infoHash: try id(a["info_hash"], "info_hash"), port: port, token: Array(token), impliedPort: implied,
                seed: try flag(a["seed"], "seed"))
        case "sample_infohashes":
            query = .sampleInfohashes(target: try id(a["target"], "target"), want: try want(a["want"]))
        case "get":
            query = .get(target: try id(a["target"], "target"), sequence: try optionalInteger(a["seq"], "seq"))
        case "put":
            guard let token = a["token"]?.bytes else { throw malformed("put without 'token'") }
            guard token.count <= maximumTokenLength else { throw DHTError(.limitExceeded, "token too long") }
            guard let item = try item(in: a, verify: false) else { throw malformed("put without 'v'") }
            query = .put(token: Array(token), item: item, cas: try optionalInteger(a["cas"], "cas"))
        default:
            query = .unknown(method: Array(q))
        }
        return KRPCQueryMessage(
            transactionID: transactionID, senderID: sender, query: query, readOnly: readOnly, version: version)
    }

    static func optionalInteger(_ node: BencodeNode?, _ name: String) throws(DHTError) -> Int64? {
        guard let node else { return nil }
        guard let value = node.integer else { throw malformed("'\(name)' is not an integer") }
        return value
    }

    /// The BEP 44 item in a `put` query or `get` response; signatures are checked by the node, not here.
    static func item(in dictionary: BencodeNode, verify: Bool) throws(DHTError) -> DHTItem? {
        guard let v = dictionary["v"] else { return nil }
        let raw = Array(v.rawBytes)
        guard raw.count <= DHTItem.maximumValueSize else { throw DHTError(.limitExceeded, "'v' above 1000 bytes") }
        // Signatures cover the value's bytes: only a canonical encoding survives a round trip unchanged.
        guard v.value.encoded() == raw else { throw malformed("'v' is not canonical bencode") }
        var signed: DHTItem.Signed?
        if let k = dictionary["k"] {
            guard let key = k.bytes, key.count == 32 else { throw malformed("'k' is not a 32-byte key") }
            guard let sig = dictionary["sig"]?.bytes, sig.count == 64 else {
                throw malformed("'sig' is not a 64-byte signature")
            }
            guard let seq = try optionalInteger(dictionary["seq"], "seq") else { throw malformed("'k' without 'seq'") }
            var salt: [UInt8] = []
            if let s = dictionary["salt"] {
                guard let bytes = s.bytes else { throw malformed("'salt' is not a string") }
                guard bytes.count <= DHTItem.maximumSaltSize else { throw DHTError(.limitExceeded, "salt too long") }
                salt = Array(bytes)
            }
            signed = DHTItem.Signed(publicKey: Array(key), signature: Array(sig), sequence: seq, salt: salt)
        }
        guard let item = DHTItem(value: raw, signed: signed, verify: verify) else {
            throw malformed("invalid item")
        }
        return item
    }

    static func compactNodes(_ node: BencodeNode?, width: Int, _ name: String) throws(DHTError) -> [DHTNodeInfo] {
        guard let node else { return [] }
        guard let bytes = node.bytes else { throw malformed("'\(name)' is not a string") }
        let entry = 20 + width
        guard bytes.count % entry == 0 else { throw malformed("'\(name)' length is not a multiple of \(entry)") }
        guard bytes.count / entry <= maximumNodes else {
            throw DHTError(.limitExceeded, "'\(name)' holds \(bytes.count / entry) nodes")
        }
        var result: [DHTNodeInfo] = []
        result.reserveCapacity(bytes.count / entry)
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let id = NodeID(bytes: bytes[start..<(start + 20)])!
            let endpoint = DHTEndpoint(compact: bytes[(start + 20)..<(start + entry)])!
            result.append(DHTNodeInfo(id: id, endpoint: endpoint))
            start += entry
        }
        return result
    }

    static func decodeResponse(_ r: BencodeNode) throws(DHTError) -> KRPCResponse {
        var response = KRPCResponse(senderID: try id(r["id"], "id"))
        response.nodes = try compactNodes(r["nodes"], width: DHTEndpoint.compactV4Length, "nodes")
        response.nodes6 = try compactNodes(r["nodes6"], width: DHTEndpoint.compactV6Length, "nodes6")
        if let values = r["values"] {
            guard values.kind == .list else { throw malformed("'values' is not a list") }
            guard values.count <= maximumValues else { throw DHTError(.limitExceeded, "\(values.count) values") }
            for value in values.list {
                guard let bytes = value.bytes, let endpoint = DHTEndpoint(compact: bytes) else {
                    throw malformed("a 'values' entry is not a compact endpoint")
                }
                response.values.append(endpoint)
            }
        }
        if let token = r["token"] {
            guard let bytes = token.bytes else { throw malformed("'token' is not a string") }
            guard bytes.count <= maximumTokenLength else { throw DHTError(.limitExceeded, "token too long") }
            response.token = Array(bytes)
        }
        if let interval = r["interval"] {
            guard let value = interval.integer, let v = Int(exactly: value) else { throw malformed("bad 'interval'") }
            response.interval = v
        }
        if let num = r["num"] {
            guard let value = num.integer, let v = Int(exactly: value) else { throw malformed("bad 'num'") }
            response.storedCount = v
        }
        response.item = try item(in: r, verify: false)
        if response.item == nil { response.sequence = try optionalInteger(r["seq"], "seq") }
        if let samples = r["samples"] {
            guard let bytes = samples.bytes, bytes.count % 20 == 0 else { throw malformed("bad 'samples'") }
            guard bytes.count / 20 <= maximumSamples else { throw DHTError(.limitExceeded, "too many samples") }
            var start = bytes.startIndex
            while start < bytes.endIndex {
                response.samples.append(NodeID(bytes: bytes[start..<(start + 20)])!)
                start += 20
            }
        }
        for (key, path) in [("BFsd", \KRPCResponse.seedsFilter), ("BFpe", \KRPCResponse.downloadersFilter)] {
            guard let node = r[key] else { continue }
            guard let bytes = node.bytes, let filter = ScrapeBloomFilter(bytes: bytes) else {
                throw malformed("'\(key)' is not a 256-byte bloom filter")
            }
            response[keyPath: path] = filter
        }
        return response
    }

    // MARK: Encoding

    /// The canonical encoding of `message` (dictionary keys sorted, as BEP 3 requires).
    public static func encode(_ message: KRPCMessage) -> [UInt8] {
        var root = BencodeDictionary()
        root["t"] = .bytes(ArraySlice(message.transactionID))
        switch message {
        case .query(let m):
            root["y"] = "q"
            root["q"] = .bytes(ArraySlice(m.query.method))
            root["a"] = .dictionary(arguments(of: m))
            if m.readOnly { root["ro"] = 1 }
            if let v = m.version { root["v"] = .bytes(ArraySlice(v)) }
        case .response(let m):
            root["y"] = "r"
            root["r"] = .dictionary(arguments(of: m.response))
            if let ip = m.requesterAddress { root["ip"] = .bytes(ArraySlice(ip.compact)) }
            if let v = m.version { root["v"] = .bytes(ArraySlice(v)) }
        case .error(let m):
            root["y"] = "e"
            root["e"] = .list([.integer(Int64(m.code)), .string(m.message)])
            if let v = m.version { root["v"] = .bytes(ArraySlice(v)) }
        }
        return BencodeValue.dictionary(root).encoded()
    }

    static func wantValue(_ want: KRPCWant) -> BencodeValue? {
        guard !want.isEmpty else { return nil }
        var list: [BencodeValue] = []
        if want.contains(.ipv4) { list.append("n4") }
        if want.contains(.ipv6) { list.append("n6") }
        return .list(list)
    }

    static func idValue(_ id: NodeID) -> BencodeValue { .bytes(ArraySlice(id.bytes)) }

    static func arguments(of m: KRPCQueryMessage) -> BencodeDictionary {
        var a = BencodeDictionary()
        a["id"] = idValue(m.senderID)
        switch m.query {
        case .ping, .unknown:
            break
        case .findNode(let target, let want):
            a["target"] = idValue(target)
            a["want"] = wantValue(want)
        case .getPeers(let infoHash, let want, let noSeed, let scrape):
            a["info_hash"] = idValue(infoHash)
            a["want"] = wantValue(want)
            if noSeed { a["noseed"] = 1 }
            if scrape { a["scrape"] = 1 }
        case .announcePeer(let infoHash, let port, let token, let impliedPort, let seed):
            a["info_hash"] = idValue(infoHash)
            a["port"] = .integer(Int64(port))
            a["token"] = .bytes(ArraySlice(token))
            if impliedPort { a["implied_port"] = 1 }
            if seed { a["seed"] = 1 }
        case .sampleInfohashes(let target, let want):
            a["target"] = idValue(target)
            a["want"] = wantValue(want)
        case .get(let target, let sequence):
            a["target"] = idValue(target)
            if let sequence { a["seq"] = .integer(sequence) }
        case .put(let token, let item, let cas):
            a["token"] = .bytes(ArraySlice(token))
            setItem(item, in: &a)
            if let cas { a["cas"] = .integer(cas) }
        }
        return a
    }

    static func setItem(_ item: DHTItem, in dictionary: inout BencodeDictionary) {
        dictionary["v"] = (try? BencodeValue(decoding: item.value)) ?? .bytes([])
        if let signed = item.signed {
            dictionary["k"] = .bytes(ArraySlice(signed.publicKey))
            dictionary["sig"] = .bytes(ArraySlice(signed.signature))
            dictionary["seq"] = .integer(signed.sequence)
            if !signed.salt.isEmpty { dictionary["salt"] = .bytes(ArraySlice(signed.salt)) }
        }
    }

    static func arguments(of r: KRPCResponse) -> BencodeDictionary {
        var a = BencodeDictionary()
        a["id"] = idValue(r.senderID)
        if !r.nodes.isEmpty {
            var bytes: [UInt8] = []
            for node in r.nodes { node.appendCompact(to: &bytes) }
            a["nodes"] = .bytes(ArraySlice(bytes))
        }
        if !r.nodes6.isEmpty {
            var bytes: [UInt8] = []
            for node in r.nodes6 { node.appendCompact(to: &bytes) }
            a["nodes6"] = .bytes(ArraySlice(bytes))
        }
        if !r.values.isEmpty { a["values"] = .list(r.values.map { .bytes(ArraySlice($0.compact)) }) }
        if let token = r.token { a["token"] = .bytes(ArraySlice(token)) }
        if let interval = r.interval { a["interval"] = .integer(Int64(interval)) }
        if let num = r.storedCount { a["num"] = .integer(Int64(num)) }
        if let item = r.item {
            setItem(item, in: &a)
            a["salt"] = nil  // BEP 44: responses carry no salt; the requester knows it
        } else if let sequence = r.sequence {
            a["seq"] = .integer(sequence)
        }
        if !r.samples.isEmpty {
            var bytes: [UInt8] = []
            for sample in r.samples { sample.append(to: &bytes) }
            a["samples"] = .bytes(ArraySlice(bytes))
        }
        if let filter = r.seedsFilter { a["BFsd"] = .bytes(ArraySlice(filter.bytes)) }
        if let filter = r.downloadersFilter { a["BFpe"] = .bytes(ArraySlice(filter.bytes)) }
        return a
    }
}
