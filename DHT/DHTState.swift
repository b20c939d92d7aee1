import BTBencode

/// What a node saves to restart fast: its id and the nodes of its routing table, as a bencoded dictionary
/// (`id`: 20 bytes, `nodes`: compact IPv4 node infos, `nodes6`: compact IPv6 node infos).
///
/// On load the nodes are only candidates: a node pings them (and uses them to bootstrap) before trusting
/// them, since any of them may have gone while we were away.
public struct DHTState: Hashable, Sendable {
    /// Largest state file read (a full table of 160 buckets of 128 nodes is far smaller).
    public static let maximumSize = 1 << 20
    /// Most nodes read back from a state file.
    public static let maximumNodes = 4096

    /// Our node id.
    public var localID: NodeID
    /// Known nodes, closest buckets last as the table listed them.
    public var nodes: [DHTNodeInfo]

    /// Creates a state.
    public init(localID: NodeID, nodes: [DHTNodeInfo]) {
        self.localID = localID
        self.nodes = nodes
    }

    /// The state of `table`: its id and its live nodes.
    public init(_ table: RoutingTable) {
        self.init(localID: table.localID, nodes: table.nodes.map(\.info))
    }

    /// The bencoded state file.
    public func encoded() -> [UInt8] {
        var v4: [UInt8] = []
        var v6: [UInt8] = []
        for node in nodes.prefix(Self.maximumNodes) {
            if node.endpoint.ip.isV6 { node.appendCompact(to: &v6) } else { node.appendCompact(to: &v4) }
        }
        var dictionary = BencodeDictionary()
        dictionary["id"] = .bytes(ArraySlice(localID.bytes))
        dictionary["nodes"] = .bytes(ArraySlice(v4))
        dictionary["nodes6"] = .bytes(ArraySlice(v6))
        return BencodeValue.dictionary(dictionary).encoded()
    }

    /// Reads a state file written by ``encoded()``.
    /// - Throws: ``DHTError`` with code `.invalidState` (or `.limitExceeded`) if it is not one.
    public init(decoding bytes: [UInt8]) throws(DHTError) {
        guard bytes.count <= Self.maximumSize else { throw DHTError(.limitExceeded, "state file too large") }
        let document: BencodeDocument
        do {
            document = try BencodeDocument(bytes, options: BencodeDecodingOptions(maxDepth: 4, maxTokens: 64))
        } catch {
            throw DHTError(.invalidState, "\(error)")
        }
        guard let idBytes = document.root["id"]?.bytes, let id = NodeID(bytes: idBytes) else {
            throw DHTError(.invalidState, "no 20-byte 'id'")
        }
        var nodes: [DHTNodeInfo] = []
        for (key, width) in [("nodes", 6), ("nodes6", 18)] {
            guard let node = document.root[key] else { continue }
            guard let list = node.bytes, list.count % (20 + width) == 0 else {
                throw DHTError(.invalidState, "'\(key)' is not a list of compact node infos")
            }
            var start = list.startIndex
            while start < list.endIndex {
                guard nodes.count < Self.maximumNodes else { throw DHTError(.limitExceeded, "too many nodes") }
                nodes.append(
                    DHTNodeInfo(
                        id: NodeID(bytes: list[start..<(start + 20)])!,
                        endpoint: DHTEndpoint(compact: list[(start + 20)..<(start + 20 + width)])!))
                start += 20 + width
            }
        }
        self.init(localID: id, nodes: nodes)
    }
}
