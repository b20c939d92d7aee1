import BTWire
import NIOCore

/// Decodes a peer wire stream; every message decoded must re-encode to exactly the bytes it was read from.
/// The first input byte chooses the piece count (0: unknown), so bitfield and index checks are exercised.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let pieceCount = bytes[0] == 0 ? nil : Int(bytes[0]) * 3
    var buffer = ByteBuffer(bytes: bytes.dropFirst())
    let limits = PeerMessageDecoder.Limits(maxMessageLength: 1 << 16, pieceCount: pieceCount)
    while true {
        let before = buffer
        let message: PeerMessage?
        do {
            message = try PeerMessageDecoder.decode(from: &buffer, limits: limits)
        } catch {
            break
        }
        guard let message else {
            precondition(buffer.readerIndex == before.readerIndex, "a short read must consume nothing")
            break
        }
        let consumed = before.getBytes(at: before.readerIndex, length: buffer.readerIndex - before.readerIndex)!
        precondition(message.encoded == consumed, "re-encoding differs from the input")
    }
    // The incremental decoder, fed in two parts, must agree with the one-shot decode.
    var decoder = PeerMessageDecoder(limits: limits)
    let cut = size / 2
    decoder.append(Array(bytes[1..<max(1, cut)]))
    var incremental: [PeerMessage] = []
    var failed = false
    do {
        while let m = try decoder.next() { incremental.append(m) }
        decoder.append(Array(bytes[max(1, cut)...]))
        while let m = try decoder.next() { incremental.append(m) }
    } catch {
        failed = true
    }
    var whole = ByteBuffer(bytes: bytes.dropFirst())
    var oneShot: [PeerMessage] = []
    while let m = try? PeerMessageDecoder.decode(from: &whole, limits: limits) { oneShot.append(m) }
    if !failed { precondition(incremental == oneShot, "split decoding differs from whole decoding") }
    return 0
}
