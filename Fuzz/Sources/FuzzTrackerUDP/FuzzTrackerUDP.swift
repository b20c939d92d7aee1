import BTTracker
import NIOCore

/// BEP 15 packets: a request that decodes re-encodes to the exact input; a response that decodes re-encodes
/// to bytes that decode to the same packet; and the exchange state machine survives any datagram.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let request = try? UDPTrackerPacket.decodeRequest(bytes) {
        guard request.encoded() == bytes else { fatalError("UDP request round trip differs") }
    }
    for ipv6 in [false, true] {
        guard let response = try? UDPTrackerPacket.decodeResponse(bytes, ipv6: ipv6) else { continue }
        guard (try? UDPTrackerPacket.decodeResponse(response.encoded(), ipv6: ipv6)) == response else {
            fatalError("UDP response round trip differs")
        }
    }
    // Drive an exchange with the datagram, its transaction id patched to match so the parser is reached.
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let request = AnnounceRequest(
        infoHash: Array(repeating: 1, count: 20), peerID: Array(repeating: 2, count: 20), port: 1, left: 0)
    for query in [UDPTrackerQuery.announce(request, urlData: []), .scrape([Array(repeating: 3, count: 20)])] {
        for cached in [nil, UDPTrackerConnection(connectionID: 9, obtainedAt: now)] {
            var exchange = UDPTrackerExchange(query: query, connection: cached, random: TrackerRandom(seed: 1))
            guard case .send(let sent, _) = exchange.start(now: now) else { continue }
            var datagram = bytes
            if datagram.count >= 8 { datagram.replaceSubrange(4..<8, with: sent[12..<16]) }
            _ = exchange.receive(datagram, ipv6: false, now: now)
            _ = exchange.timedOut(now: now + .seconds(20))
        }
    }
    return 0
}
