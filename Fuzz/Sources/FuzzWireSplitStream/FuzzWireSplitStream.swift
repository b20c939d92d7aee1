import BTMetainfo
import BTWire
import NIOCore

/// Builds a valid peer wire stream from the input (each group of bytes picks a message and its fields),
/// then decodes it whole and in many random splits (drawn from the input's tail): every split must give
/// exactly the messages the stream was built from, with nothing left over. Random bytes alone rarely form a long valid stream; this
/// target keeps every input valid so that the splitting, not the rejecting, is what gets exercised.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let pieceCount = 1 + Int(bytes[0]) % 40
    var reader = Reader(bytes: bytes, position: 1)
    var messages: [PeerMessage] = []
    var stream = ByteBuffer()
    // At most 200 messages and 32 KiB: a split into single bytes costs a decoder call per byte.
    while messages.count < 200, stream.readableBytes < 32768, let message = reader.message(pieceCount: pieceCount) {
        messages.append(message)
        message.encode(into: &stream)
    }
    let encoded = Array(stream.readableBytesView)
    let limits = PeerMessageDecoder.Limits(pieceCount: pieceCount)

    var whole = PeerMessageDecoder(limits: limits)
    whole.append(encoded)
    var decoded: [PeerMessage] = []
    while let message = try! whole.next() { decoded.append(message) }
    precondition(decoded == messages, "whole decoding differs from the messages encoded")

    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
    for byte in bytes.suffix(16) { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01B3 }
    for round in 0..<8 {
        var decoder = PeerMessageDecoder(limits: limits)
        var split: [PeerMessage] = []
        var offset = 0
        var state = seed &+ UInt64(round)
        let largest = [1, 3, 17, 64, 700, 4096, 20000, 70000][round]
        if largest < 4 && encoded.count > 4096 { continue }
        while offset < encoded.count {
            state = next(state)
            let chunk = min(encoded.count - offset, 1 + Int(state % UInt64(largest)))
            decoder.append(encoded[offset..<offset + chunk])
            offset += chunk
            while let message = try! decoder.next() { split.append(message) }
        }
        precondition(split == messages, "split decoding (largest chunk \(largest)) differs from whole decoding")
        precondition(decoder.bufferedBytes == 0, "bytes left over after a whole stream")
    }
    return 0
}

/// SplitMix64.
private func next(_ state: UInt64) -> UInt64 {
    var z = state &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Reads message choices from the fuzzer's bytes.
private struct Reader {
    let bytes: [UInt8]
    var position: Int

    mutating func byte() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func int(below bound: Int) -> Int? {
        guard let high = byte(), let low = byte() else { return nil }
        return (Int(high) << 8 | Int(low)) % bound
    }

    mutating func message(pieceCount: Int) -> PeerMessage? {
        guard let kind = byte() else { return nil }
        switch kind % 16 {
        case 0: return .keepAlive
        case 1: return .choke
        case 2: return .unchoke
        case 3: return .interested
        case 4: return .notInterested
        case 5: return int(below: pieceCount).map { .have(piece: $0) }
        case 6:
            var bits = Bitfield(count: pieceCount)
            for index in 0..<pieceCount where (byte() ?? 0) & 1 == 1 { bits[index] = true }
            return .bitfield(ByteBuffer(bytes: bits.bytes))
        case 7, 8, 13:
            guard let piece = int(below: pieceCount), let offset = int(below: 1 << 16), let length = byte() else {
                return nil
            }
            let request = BlockRequest(piece: piece, offset: offset, length: 1 + Int(length) * 64)
            return kind % 16 == 7 ? .request(request) : kind % 16 == 8 ? .cancel(request) : .reject(request)
        case 9:
            guard let piece = int(below: pieceCount), let length = int(below: 4097) else { return nil }
            var data = ByteBuffer()
            data.writeRepeatingByte(kind, count: length)
            return .piece(Block(piece: piece, offset: 0, data: data))
        case 10: return .haveAll
        case 11: return .haveNone
        case 12: return int(below: pieceCount).map { .allowedFast(piece: $0) }
        case 14:
            guard let id = byte(), let length = int(below: 2000) else { return nil }
            var payload = ByteBuffer()
            payload.writeRepeatingByte(id, count: length)
            return .extended(ExtendedMessage(id: id, payload: payload))
        default: return int(below: 65536).map { .port(UInt16($0)) }
        }
    }
}
