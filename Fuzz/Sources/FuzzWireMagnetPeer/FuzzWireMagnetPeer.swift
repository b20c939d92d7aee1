import BTMetainfo
import BTWire
import NIOCore

/// Drives a connected ``PeerStateMachine`` of a magnet (``PeerConfiguration/awaitsMetadata``) with arbitrary
/// bytes from the remote side, gives it the metadata (a piece count from the first input byte) part-way
/// through, and goes on: nothing may crash, the peer's pieces must then have the real count (unless the
/// connection closed), and once closed the machine must stay closed and quiet.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 2 else { return 0 }
    let pieceCount = 1 + Int(bytes[0]) % 40
    let arrivalStep = Int(bytes[1]) % 16
    let infoHash = [UInt8](repeating: 7, count: 20)
    let localID = PeerID(bytes: [UInt8](repeating: 1, count: 20))!
    var waiting = PeerConfiguration(
        infoHash: infoHash, localPeerID: localID, pieceLength: 16384, totalLength: 0, localPieces: Bitfield(count: 0),
        remoteIPv4: [127, 0, 0, 1])
    waiting.awaitsMetadata = true
    var local = Bitfield(count: pieceCount)
    for i in stride(from: 0, to: pieceCount, by: 3) { local[i] = true }
    let real = PeerConfiguration(
        infoHash: infoHash, localPeerID: localID, pieceLength: 16384,
        totalLength: 16384 * Int64(pieceCount - 1) + 100, localPieces: local, remoteIPv4: [127, 0, 0, 1])
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var machine = PeerStateMachine(configuration: waiting, incoming: false, source: .tracker, now: now)
    _ = machine.startConnecting(now: now)
    _ = machine.connectionEstablished(now: now)
    let remote = Handshake(
        reserved: .local(), infoHash: infoHash, peerID: PeerID(bytes: [UInt8](repeating: 2, count: 20))!)
    var pending = machine.receive(ByteBuffer(bytes: remote.encoded), now: now)
    var position = 2
    var step = 0
    var arrived = false
    while position < bytes.count {
        let chunk = max(1, Int(bytes[position]) % 64)
        let end = min(bytes.count, position + 1 + chunk)
        pending += machine.receive(ByteBuffer(bytes: bytes[min(end, position + 1)..<end]), now: now)
        position = end
        step += 1
        now = now + .seconds(Int64(step % 5))
        pending += machine.tick(now: now)
        if step == arrivalStep {
            pending += machine.metadataArrived(real, now: now)
            arrived = true
            pending += machine.unchoke(now: now)
        }
        for action in pending {
            if case .readBlock(let request) = action {
                _ = machine.blockRead(request, data: ByteBuffer(repeating: 0, count: request.length), now: now)
            }
        }
        pending.removeAll()
        if arrived, case .active = machine.phase {
            precondition(machine.peerPieces.count == pieceCount, "the peer's pieces must have the real count")
            let piece = step % pieceCount
            if machine.canRequest(piece: piece) {
                pending += machine.request([BlockRequest(piece: piece, offset: 0, length: 100)], now: now)
            }
        }
    }
    if case .closed = machine.phase {
        precondition(machine.receive(ByteBuffer(bytes: [0, 0, 0, 0]), now: now).isEmpty, "closed must stay quiet")
    }
    return 0
}
