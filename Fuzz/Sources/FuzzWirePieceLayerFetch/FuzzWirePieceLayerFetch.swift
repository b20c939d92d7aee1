import BTMetainfo
import BTWire
import Foundation
import NIOCore

/// A v2 torrent of one 40-piece file (16 KiB pieces) made by ``TorrentCreator``, and the same torrent
/// without its piece layer.
let fixture: (complete: Torrent, stripped: Torrent) = {
    let path = NSTemporaryDirectory() + "/nbt-fuzz-layers-\(getpid()).bin"
    let content = (0..<(40 * 16_384 - 100)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    FileManager.default.createFile(atPath: path, contents: Data(content))
    defer { try? FileManager.default.removeItem(atPath: path) }
    var creator = TorrentCreator(path: path)
    creator.version = .v2
    creator.pieceLength = 16_384
    creator.creationDate = nil
    let torrent = try! creator.create()
    var without = torrent
    without.pieceLayers = [:]
    precondition(torrent.pieceLayers.count == 1 && without.filesMissingPieceLayers.count == 1)
    return (torrent, without)
}()

/// Drives a ``PieceLayerFetch`` with hostile peers beside an honest ``PieceLayerServe``. The input is a list of
/// operations, each an op byte and a peer byte (8 peers): add a peer, take one away, let time pass, deliver a
/// hostile `hashes` or `hash reject` payload (length-prefixed, through the real decoder), or have the honest
/// server answer one of the requests sent. The fetch must never crash, keep its progress within bounds, and
/// keep only the true layer.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let complete = fixture.complete
    var fetch = PieceLayerFetch<UInt8>(torrent: fixture.stripped, configuration: .init(maxHashesPerRequest: 16))
    var server = PieceLayerServe(torrent: complete)
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var sent: [HashRequest] = []
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
        var actions: [PieceLayerFetch<UInt8>.Action] = []
        switch head[0] % 6 {
        case 0:
            actions = fetch.addPeer(peer, now: now)
        case 1:
            actions = fetch.peerLeft(peer, now: now)
        case 2:
            guard let step = take(1) else { break }
            now = now + .seconds(Int64(step[0]))
            actions = fetch.tick(now: now)
        case 3:
            guard let length = take(2), let payload = take(Int(length[0]) << 8 | Int(length[1])) else { break }
            guard let message = try? HashesMessage(decoding: payload) else { break }
            actions = fetch.received(message, from: peer, now: now)
        case 4:
            guard let payload = take(HashRequest.payloadLength), let request = try? HashRequest(decoding: payload)
            else { break }
            actions = fetch.rejected(request, by: peer, now: now)
        default:
            guard !sent.isEmpty, let which = take(1) else { break }
            let request = sent[Int(which[0]) % sent.count]
            switch server.answer(request) {
            case .hashes(let message): actions = fetch.received(message, from: peer, now: now)
            case .reject(let request): actions = fetch.rejected(request, by: peer, now: now)
            }
        }
        for action in actions {
            switch action {
            case .send(let request, _):
                if sent.count < 64 { sent.append(request) }
            case .layerVerified(let root):
                precondition(fetch.layers[root] == complete.pieceLayers[root], "kept a layer that is not the file's")
            case .blame:
                break
            }
        }
        let progress = fetch.progress
        precondition(progress.verified >= 0 && progress.verified <= progress.total, "progress out of bounds")
    }
    return 0
}
