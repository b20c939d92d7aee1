import Crypto

/// The responder's map from `HASH('req2', SKEY)` to the SKEY (info-hash) of every torrent it serves, so
/// that an incoming handshake's `HASH('req2', SKEY) xor HASH('req3', S)` finds its torrent with one hash
/// and one lookup instead of hashing every torrent per handshake.
///
/// A v1 torrent is entered by its 20-byte info-hash; a v2 or hybrid torrent also (or only) by its
/// SHA-256 info-hash truncated to 20 bytes, which is what BEP 52 peers put in handshakes.
public struct SKEYIndex: Sendable {
    private var byReq2: [[UInt8]: [UInt8]] = [:]

    /// An empty index.
    public init() {}

    /// An index of `infoHashes` (each 20 or 32 bytes; see ``insert(_:)``).
    public init(_ infoHashes: some Sequence<[UInt8]>) {
        for hash in infoHashes { insert(hash) }
    }

    /// `HASH('req2', SKEY)` for the 20-byte SKEY `skey`.
    public static func req2(_ skey: some Collection<UInt8>) -> [UInt8] {
        var hasher = Insecure.SHA1()
        hasher.update(data: Array("req2".utf8))
        hasher.update(data: Array(skey))
        return Array(hasher.finalize())
    }

    /// Adds a torrent: a 20-byte info-hash as is, a 32-byte (v2) info-hash by its first 20 bytes.
    ///
    /// - Precondition: `infoHash` holds 20 or 32 bytes.
    public mutating func insert(_ infoHash: [UInt8]) {
        precondition(infoHash.count == 20 || infoHash.count == 32, "info-hashes are 20 or 32 bytes")
        let skey = Array(infoHash.prefix(20))
        byReq2[Self.req2(skey)] = skey
    }

    /// Removes a torrent entered with ``insert(_:)``.
    public mutating func remove(_ infoHash: [UInt8]) {
        byReq2[Self.req2(infoHash.prefix(20))] = nil
    }

    /// The number of SKEYs in the index.
    public var count: Int { byReq2.count }

    /// The 20-byte SKEY whose `HASH('req2', SKEY)` is `req2`, if any.
    public func skey(forReq2 req2: some Collection<UInt8>) -> [UInt8]? {
        byReq2[Array(req2)]
    }
}
