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
    // The incremental decoder, fed in two halves, in single bytes and in random splits (drawn from a
    // generator seeded by the input), must give exactly what the one-shot decode gives, and fail exactly
    // when it fails.
    let stream = Array(bytes.dropFirst())
    var whole = ByteBuffer(bytes: stream)
    var oneShot: [PeerMessage] = []
    var oneShotFailed = false
    do {
        while let m = try PeerMessageDecoder.decode(from: &whole, limits: limits) { oneShot.append(m) }
    } catch {
        oneShotFailed = true
    }
    var seed = UInt64(truncatingIfNeeded: size) &* 0x9E37_79B9_7F4A_7C15
    for byte in stream.prefix(16) { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01B3 }
    let splits: [[Int]] = [
        [stream.count / 2, stream.count - stream.count / 2],
        Array(repeating: 1, count: stream.count),
        randomSplit(stream.count, seed: seed, largest: 7),
        randomSplit(stream.count, seed: seed &+ 1, largest: 300),
    ]
    for chunks in splits {
        var decoder = PeerMessageDecoder(limits: limits)
        var incremental: [PeerMessage] = []
        var failed = false
        var offset = 0
        do {
            for chunk in chunks {
                decoder.append(stream[offset..<offset + chunk])
                offset += chunk
                while let m = try decoder.next() { incremental.append(m) }
            }
        } catch {
            failed = true
        }
        precondition(incremental == oneShot, "split decoding differs from whole decoding")
        precondition(
            failed == oneShotFailed, "split decoding fails where whole decoding does not, or not where it does")
    }
    return 0
}

/// Chunk sizes covering `count` bytes, each between 1 and `largest`, from a SplitMix64 stream.
private func randomSplit(_ count: Int, seed: UInt64, largest: Int) -> [Int] {
    var state = seed
    var chunks: [Int] = []
    var left = count
    while left > 0 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let chunk = min(left, 1 + Int(z % UInt64(largest)))
        chunks.append(chunk)
        left -= chunk
    }
    return chunks
}
