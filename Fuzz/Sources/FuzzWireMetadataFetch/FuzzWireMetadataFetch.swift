import BTBencode
import BTMetainfo
import BTWire
import NIOCore

/// A real info dictionary of 3 metadata pieces (2,000 pieces of SHA-1 hashes) and its info-hash.
let info: [UInt8] = {
    let hashes = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    let value: BencodeValue = [
        "length": .integer(2_000 * 16_384), "name": "fuzz.bin", "piece length": 16_384, "pieces": .bytes(hashes[...]),
    ]
    return value.encoded()
}()
let infoHashes = try! Torrent(bytes: Array("d4:info".utf8) + info + [UInt8(ascii: "e")]).infoHashes

/// Drives a ``MetadataFetch`` with hostile peers. The input is a list of operations, each an op byte and a
/// peer byte (8 peers): add a peer with a 3-byte size (or the true size), take a peer away, let time pass,
/// deliver a hostile `ut_metadata` payload (length-prefixed, through the real decoder) or an honest piece.
/// The fetch must never crash, keep its progress within bounds, and complete only with the true dictionary.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var fetch = MetadataFetch<UInt8>(
        infoHashes: infoHashes, configuration: .init(maxMetadataSize: 1 << 20, maxPeers: 6))
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var index = 0
    func take(_ count: Int) -> [UInt8]? {
        guard index + count <= bytes.count else { return nil }
        defer { index += count }
        return Array(bytes[index..<(index + count)])
    }
    var operations = 0
    while let head = take(2), operations < 2_000 {
        operations += 1
        let peer = head[1] % 8
        var actions: [MetadataFetch<UInt8>.Action] = []
        switch head[0] % 6 {
        case 0:
            guard let raw = take(3) else { break }
            let claimed = Int(raw[0]) << 16 | Int(raw[1]) << 8 | Int(raw[2])
            actions = fetch.addPeer(peer, metadataSize: raw[0] == 0xFF ? info.count : claimed, now: now)
        case 1:
            actions = fetch.peerLeft(peer, now: now)
        case 2:
            guard let step = take(1) else { break }
            now = now + .seconds(Int64(step[0]))
            actions = fetch.tick(now: now)
        case 3:
            guard let length = take(2), let payload = take(Int(length[0]) << 8 | Int(length[1])) else { break }
            guard let message = try? MetadataMessage(decoding: payload) else { break }
            actions = fetch.received(message, from: peer, now: now)
        default:
            guard let which = take(1) else { break }
            let piece = Int(which[0]) % 3
            let start = piece * MetadataMessage.pieceSize
            let end = min(start + MetadataMessage.pieceSize, info.count)
            let message = MetadataMessage.data(piece: piece, totalSize: info.count, data: Array(info[start..<end]))
            actions = fetch.received(message, from: peer, now: now)
        }
        for action in actions {
            if case .completed(let bytes) = action { precondition(bytes == info, "completed with a wrong dictionary") }
        }
        if let progress = fetch.progress {
            precondition(progress.received >= 0 && progress.received <= progress.total, "progress out of bounds")
        }
    }
    return 0
}
