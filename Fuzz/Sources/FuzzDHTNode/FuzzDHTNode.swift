import BTDHT
import NIOCore

/// Drives a ``DHTNode`` with arbitrary datagrams from a few addresses while its lookups run and time passes:
/// nothing may crash, every datagram it sends must be valid KRPC no larger than the codec's maximum, and
/// its tables must stay within their limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var node = DHTNode(configuration: DHTConfiguration(randomSeed: 1), now: now)
    let sources = (1...4).map { DHTEndpoint(ip: .v4(0x0B00_0000 + UInt32($0)), port: 6881) }
    var pending = node.bootstrap(from: sources, now: now).1
    pending +=
        node.getPeers(NodeID(bytes: [UInt8](repeating: 0x42, count: 20))!, announce: DHTAnnounce(port: nil), now: now).1
    var position = 0
    var step = 0
    // Each chunk: one byte picks the source and the time step, one byte the length, then the datagram.
    while position + 2 <= bytes.count {
        let control = bytes[position]
        let length = Int(bytes[position + 1])
        let end = min(bytes.count, position + 2 + length)
        var datagram = Array(bytes[(position + 2)..<end])
        position = end
        step += 1
        // Answer with a transaction id the node really used, so answers reach the lookup code too.
        if control & 0x80 != 0, let sent = pending.lazy.compactMap(sentQuery).first, datagram.count > 4 {
            datagram = patch(datagram, transactionID: sent)
        }
        let source = sources[Int(control & 3)]
        pending += node.receive(datagram, from: source, now: now)
        now = now + .milliseconds(Int64(control >> 2 & 0x1f) * 100)
        pending += node.tick(now: now)
        for action in pending {
            if case .send(let out, _) = action {
                precondition(out.count <= KRPCCodec.maximumMessageSize, "sent an oversized datagram")
                precondition((try? KRPCCodec.decode(out)) != nil, "sent an invalid datagram")
            }
        }
        if pending.count > 64 { pending.removeFirst(pending.count - 64) }
    }
    precondition(node.outstandingQueryCount <= node.configuration.maximumOutstandingQueries)
    precondition(node.peerStore.peerCount <= node.configuration.peerStore.maximumPeers)
    return 0
}

func sentQuery(_ action: DHTAction) -> [UInt8]? {
    guard case .send(let datagram, _) = action, case .query(let q)? = try? KRPCCodec.decode(datagram) else {
        return nil
    }
    return q.transactionID
}

/// Replaces the first `1:t` string value with `tid` when it is there (a crude splice that keeps fuzzing
/// structured answers cheap).
func patch(_ datagram: [UInt8], transactionID tid: [UInt8]) -> [UInt8] {
    let marker = Array("1:t".utf8)
    guard let start = (0...(datagram.count - marker.count)).first(where: { Array(datagram[$0..<($0 + 3)]) == marker })
    else { return datagram }
    var end = start + 3
    var length = 0
    while end < datagram.count, let digit = Int(String(UnicodeScalar(datagram[end])), radix: 10) {
        length = length * 10 + digit
        end += 1
        if length > 64 { return datagram }
    }
    guard end < datagram.count, datagram[end] == UInt8(ascii: ":"), end + 1 + length <= datagram.count else {
        return datagram
    }
    return Array(datagram[..<(start + 3)]) + Array("\(tid.count):".utf8) + tid + Array(datagram[(end + 1 + length)...])
}
