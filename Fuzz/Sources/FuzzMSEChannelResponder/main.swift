import BTMSE
import NIOCore

/// Feeds the responder's byte path of ``MSEChannelHandler`` (an ``MSEConnectionSetup`` responder, which the
/// handler drives without adding logic of its own) what a peer could send first: a real initiator's MSE
/// handshake (its choices from the input), a plaintext BitTorrent handshake, or nothing, corrupted at
/// input-chosen offsets, followed by input bytes, in input-chosen splits, under an input-chosen policy, with
/// our own output held in between. Nothing may crash or hang; the setup settles at most once, as the policy
/// allows, never passes on more bytes than it got, and is quiet once settled.
///
/// Input: [flags][policy][padC][IA len][mask count] then `mask count` × (offset hi, offset lo, mask), then
/// the tail (split into chunks of 1...64 bytes by its own bytes).
let responderKeys = MSEKeyPair(privateKey: [UInt8](repeating: 3, count: 20))
let initiatorKeys = MSEKeyPair(privateKey: [UInt8](repeating: 9, count: 20))
let skey = [UInt8](repeating: 0x42, count: 20)
let policies: [EncryptionPolicy] = [.none, .preferred, .required]
let marker: [UInt8] = [19] + Array("BitTorrent protocol".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = Array(UnsafeBufferPointer(start: data, count: size))[...]
    func take() -> UInt8 { input.popFirst() ?? 0 }
    let flags = take()
    let policy = policies[Int(take()) % 3]
    let initiatorPolicy = policies[1 + Int(flags >> 6) % 2]
    let padC = Int(take()) * 2 % (MSELimits.maxPadLength + 1)
    let iaLength = Int(take()) % (MSELimits.maxInitialPayloadLength + 8)
    let masks = (0..<Int(take() % 8)).map { _ in (Int(take()) << 8 | Int(take()), take()) }
    var index = SKEYIndex([[UInt8](repeating: 0x17, count: 20)])
    if flags & 1 == 0 { index.insert(skey) }
    let served = index
    let responderRandomness = MSEHandshakeRandomness(keyPair: responderKeys, clearPad: [1, 2, 3], encryptedPad: [4])
    var responder = MSEConnectionSetup.responder(policy: policy, randomness: responderRandomness)

    // What the peer sends first.
    var stream: [UInt8] = []
    let ourHandshake = marker + [UInt8](repeating: 0, count: 8) + skey + [UInt8](repeating: 0x61, count: 20)
    switch (flags >> 1) % 4 {
    case 0, 1:
        // A real initiator; the responder's step 2 comes from a twin with the same randomness.
        var initiator = MSEConnectionSetup.initiator(
            skey: skey, policy: initiatorPolicy,
            randomness: MSEHandshakeRandomness(
                keyPair: initiatorKeys, clearPad: [UInt8](repeating: 7, count: Int(flags >> 3) & 7),
                encryptedPad: [UInt8](repeating: 0, count: padC)))
        _ = initiator.hold(ByteBuffer(bytes: [UInt8](repeating: 0x13, count: iaLength)))
        for case .send(let first) in initiator.start() { stream += first.readableBytesView }
        var twin = MSEConnectionSetup.responder(policy: .preferred, randomness: responderRandomness)
        for case .send(let step2) in twin.receive(ByteBuffer(bytes: stream), index: { served }) {
            for case .send(let step3) in initiator.receive(step2, index: { served }) {
                stream += step3.readableBytesView
            }
        }
    case 2:
        stream = ourHandshake
    default:
        break
    }
    for (offset, mask) in masks where offset < stream.count { stream[offset] ^= mask }
    stream += input

    var outcomes = 0
    var delivered = 0
    var established: MSEEstablishedStream?
    var position = 0
    var asked = 0
    while position < stream.count {
        let chunk = 1 + Int(stream[position]) % 64
        let end = min(stream.count, position + chunk)
        let bytes = ByteBuffer(bytes: stream[position..<end])
        position = end
        if var settled = established {
            var plain = bytes
            settled.incoming?.apply(to: &plain)
            established = settled
            delivered += plain.readableBytes
            continue
        }
        if position > stream.count / 2 {
            _ = responder.hold(ByteBuffer(bytes: ourHandshake))
        }
        for action in responder.receive(
            bytes,
            index: {
                asked += 1; return served
            })
        {
            switch action {
            case .established(let stream):
                outcomes += 1
                established = stream
                delivered += stream.received.readableBytes
                switch stream.outcome {
                case .plaintext: precondition(policy != .required, "plaintext accepted under required")
                case .rc4(let chosen), .plaintextAfterMSE(let chosen):
                    precondition(policy != .none, "MSE accepted under none")
                    precondition(chosen == skey && flags & 1 == 0, "settled for a torrent never served")
                }
                precondition(stream.outcome.isEncrypted == (stream.incoming != nil), "cipher without RC4")
            case .fail:
                outcomes += 1
            case .send(let out):
                precondition(out.readableBytes <= 608, "oversized send")
            }
        }
    }
    precondition(outcomes <= 1, "more than one outcome")
    precondition(asked <= 1, "index asked more than once")
    precondition(delivered <= stream.count, "bytes out of nowhere")
    if outcomes == 1 {
        precondition(
            responder.receive(ByteBuffer(bytes: [1, 2, 3]), index: { served }).isEmpty, "settled must stay quiet")
        precondition(responder.timedOut().isEmpty && responder.peerClosed().isEmpty, "settled must stay quiet")
    }
    return 0
}
