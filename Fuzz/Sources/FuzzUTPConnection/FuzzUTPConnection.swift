import BTUTP
import NIOCore

/// Drives a connected ``UTPConnection`` (the acceptor side, after a valid SYN and first data packet) with
/// arbitrary datagrams from the peer, interleaved with writes, timer ticks and ACK flushes. Input format:
/// repeated `[length byte][control byte][length bytes of datagram]`. Nothing may crash or grow without
/// bound, and once closed the machine must stay closed and quiet.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var configuration = UTPConfiguration()
    configuration.receiveBufferSize = 64 * 1024
    configuration.sendBufferSize = 64 * 1024
    configuration.maximumReorderPackets = 128
    // Path MTU discovery from libtorrent's floor: the sender's full packets probe (padded) from the first write.
    configuration.minimumDatagramSize = 548
    // An odd length selects LEDBAT++ for the sender, so both congestion controllers are fuzzed.
    if size % 2 == 1 { configuration.congestionControl = .ledbatPlusPlus }
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    let syn = UTPPacket(type: .syn, connectionID: 100, windowSize: 1 << 20, sequenceNumber: 1, ackNumber: 0)
    guard var (connection, _) = UTPConnection.accept(syn, configuration: configuration, initialSequence: 500, now: now)
    else { preconditionFailure("a SYN must be accepted") }
    let first = UTPPacket(
        type: .data, connectionID: 101, windowSize: 1 << 20, sequenceNumber: 2, ackNumber: 499,
        payload: ByteBuffer(string: "hello"))
    _ = connection.receive(first, now: now)
    var position = 0
    var delivered = 0
    while position + 2 <= bytes.count {
        let length = Int(bytes[position])
        let control = bytes[position + 1]
        let end = min(bytes.count, position + 2 + length)
        let datagram = ByteBuffer(bytes: UnsafeBufferPointer(rebasing: bytes[(position + 2)..<end]))
        position = end
        var actions: [UTPConnectionAction] = []
        if let packet = try? UTPPacket(decoding: datagram) { actions += connection.receive(packet, now: now) }
        if control & 1 != 0 {
            var payload = ByteBuffer(repeating: control, count: Int(control) * 40)
            actions += connection.write(&payload, now: now)
        }
        if control & 2 != 0 { actions += connection.flushAcknowledgement(now: now) }
        now = now + .milliseconds(Int64(control >> 2) * 50)
        if control & 0x80 != 0, let deadline = connection.nextDeadline { now = max(now, deadline) }
        actions += connection.tick(now: now)
        if control == 0xff { actions += connection.close(now: now) }
        for action in actions {
            if case .deliver(let buffer) = action { delivered += buffer.readableBytes }
            if case .send(let packet) = action {
                precondition((try? packet.encoded()) != nil, "every packet sent must encode")
                precondition(packet.encodedSize <= configuration.maximumDatagramSize, "no packet above the ceiling")
            }
        }
        precondition(connection.bytesInFlight >= 0)
        precondition(
            connection.pathMTU.floor >= 548 && connection.pathMTU.floor <= connection.pathMTU.ceiling
                && connection.pathMTU.ceiling <= configuration.maximumDatagramSize, "the search stays in its bounds")
        precondition(connection.writableBytes >= 0 && connection.writableBytes <= configuration.sendBufferSize)
        if case .closed = connection.phase {
            precondition(connection.nextDeadline == nil, "closed has no timer")
            precondition(connection.tick(now: now + .seconds(1000)).isEmpty, "closed must stay quiet")
        }
    }
    return 0
}
