import Crypto

extension InfoHashes {
    /// Whether `infoDictionary` is the info dictionary these hashes name (BEP 9: metadata fetched from peers
    /// is checked before it is used).
    ///
    /// A v2 hash must equal the SHA-256 of the bytes. A v1 hash must equal their SHA-1 or, as libtorrent
    /// accepts, the SHA-256 truncated to 20 bytes: a magnet carrying only `urn:btih:` may name a v2 torrent by
    /// its truncated v2 hash (BEP 52 uses it on the wire, in trackers and the DHT). When both are known (a
    /// hybrid magnet), both must match.
    public func isHash(ofInfoDictionary infoDictionary: [UInt8]) -> Bool {
        let sha256 = Array(SHA256.hash(data: infoDictionary))
        if let v2, v2 != sha256 { return false }
        if let v1 {
            guard Array(Insecure.SHA1.hash(data: infoDictionary)) == v1 || Array(sha256[0..<20]) == v1 else {
                return false
            }
        }
        return true
    }
}
