import BTUTP
import NIOCore

/// Decodes arbitrary bytes as a uTP datagram: it must either throw ``UTPError`` or give a packet that
/// encodes back to exactly the same bytes (round trip), and whose selective ACK (if any) is readable.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    guard let packet = try? UTPPacket(decoding: input) else { return 0 }
    guard let encoded = try? packet.encoded() else { preconditionFailure("a decoded packet must encode") }
    precondition(encoded == input, "round trip changed the bytes")
    precondition(packet.encodedSize == size)
    if let sack = packet.selectiveAck {
        _ = sack.receivedSequenceNumbers(ackNumber: packet.ackNumber)
    }
    return 0
}
