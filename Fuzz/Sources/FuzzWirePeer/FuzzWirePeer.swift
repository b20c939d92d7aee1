import BTMetainfo
import BTWire
import NIOCore

/// Drives a connected ``PeerStateMachine`` with arbitrary bytes from the remote side (after a valid
/// handshake), serving every read it asks for and requesting blocks whenever it may: nothing may crash, and
/// once closed the machine must stay closed and quiet.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let pieceCount = 13
    var local = Bitfield(count: pieceCount)
    for i in stride(from: 0, to: pieceCount, by: 2) { local[i] = true }
    let configuration = PeerConfiguration(
        infoHash: [UInt8](repeating: 7, count: 20), localPeerID: PeerID(bytes: [UInt8](repeating: 1, count: 20))!,
        pieceLength: 32768, totalLength: 32768 * 12 + 1000, localPieces: local, remoteIPv4: [127, 0, 0, 1])
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var machine = PeerStateMachine(configuration: configuration, incoming: false, source: .tracker, now: now)
    _ = machine.startConnecting(now: now)
    _ = machine.connectionEstablished(now: now)
    let remote = Handshake(
        reserved: .local(), infoHash: [UInt8](repeating: 7, count: 20),
        peerID: PeerID(bytes: [UInt8](repeating: 2, count: 20))!)
    var pending = machine.receive(ByteBuffer(bytes: remote.encoded), now: now)
    pending += machine.unchoke(now: now)
    var position = 0
    var step = 0
    while position < bytes.count {
        let chunk = max(1, Int(bytes[position]) % 64)
        let end = min(bytes.count, position + 1 + chunk)
        pending += machine.receive(ByteBuffer(bytes: bytes[min(end, position + 1)..<end]), now: now)
        position = end
        step += 1
        now = now + .seconds(Int64(step % 7))
        pending += machine.tick(now: now)
        for action in pending {
            if case .readBlock(let request) = action {
                _ = machine.blockRead(request, data: ByteBuffer(repeating: 0, count: request.length), now: now)
            }
        }
        pending.removeAll()
        if step % 3 == 0 {
            let piece = step % pieceCount
            if machine.canRequest(piece: piece) {
                pending += machine.request([BlockRequest(piece: piece, offset: 0, length: 16384)], now: now)
            }
        }
        if step % 5 == 0 { pending += machine.allowFast(piece: step % pieceCount, now: now) }
    }
    if case .closed = machine.phase {
        precondition(machine.receive(ByteBuffer(bytes: [0, 0, 0, 0]), now: now).isEmpty, "closed must stay quiet")
    }
    return 0
}
