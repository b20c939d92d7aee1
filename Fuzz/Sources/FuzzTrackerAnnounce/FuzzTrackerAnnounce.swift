import BTBencode
import BTTracker

/// HTTP announce response parser: never crashes, and a parsed response re-encoded as bencode parses back to
/// the same values.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let response = try? HTTPTrackerProtocol.parseAnnounceResponse(bytes) else { return 0 }
    var entries: [(String, BencodeValue)] = [("interval", .integer(Int64(response.interval)))]
    if let v = response.minInterval { entries.append(("min interval", .integer(Int64(v)))) }
    if let v = response.complete { entries.append(("complete", .integer(Int64(v)))) }
    if let v = response.incomplete { entries.append(("incomplete", .integer(Int64(v)))) }
    if let v = response.downloaded { entries.append(("downloaded", .integer(Int64(v)))) }
    if let v = response.trackerID { entries.append(("tracker id", .bytes(v[...]))) }
    let peers: [BencodeValue] = response.peers.map { peer in
        var fields: [(String, BencodeValue)] = [("ip", .string(peer.host)), ("port", .integer(Int64(peer.port)))]
        if let id = peer.peerID { fields.append(("peer id", .bytes(id[...]))) }
        return .dictionary(BencodeDictionary(fields.map { .init(key: Array($0.0.utf8)[...], value: $0.1) }))
    }
    entries.append(("peers", .list(peers)))
    let encoded = BencodeValue.dictionary(
        BencodeDictionary(entries.map { .init(key: Array($0.0.utf8)[...], value: $0.1) })
    )
    .encoded()
    guard let again = try? HTTPTrackerProtocol.parseAnnounceResponse(encoded) else {
        fatalError("re-encoded announce response does not parse")
    }
    var expected = response
    expected.warning = nil
    guard again == expected else { fatalError("announce response round trip differs: \(response) vs \(again)") }
    return 0
}
