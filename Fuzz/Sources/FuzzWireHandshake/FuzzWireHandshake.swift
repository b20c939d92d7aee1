import BTWire
import NIOCore

/// Decodes a handshake: a short read consumes nothing; a decoded handshake re-encodes to the 68 input bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var buffer = ByteBuffer(bytes: bytes)
    guard let handshake = try? Handshake.decode(from: &buffer) else {
        return 0
    }
    precondition(handshake.encoded == Array(bytes.prefix(68)), "handshake re-encoding differs")
    precondition(buffer.readableBytes == size - 68, "a handshake consumes exactly 68 bytes")
    _ = handshake.peerID.client?.description
    return 0
}
