import BTMSE
import NIOCore

/// Feeds an ``MSEResponder`` a handshake from a real ``MSEInitiator`` whose choices come from the input
/// (crypto_provide, PadC and IA lengths), corrupted at input-chosen offsets (XOR masks: on the encrypted part
/// a mask flips exactly those plaintext bits, so the fuzzer reaches every field check), cut at an
/// input-chosen length and followed by input bytes, in input-chosen splits. Nothing may crash or hang; the
/// machine reports at most one outcome and is quiet once finished.
///
/// Input: [flags][provide][padC lo][padC hi][IA len][mask count] then `mask count` × (offset hi, offset lo,
/// mask), then the tail (split into chunks of 1...64 bytes by its own bytes).
/// The three method sets a side may allow or offer.
let methodChoices: [MSECryptoMethods] = [.plaintext, .rc4, [.plaintext, .rc4]]
/// Key pairs computed once: each costs a modular exponentiation, and the fuzzer is after the parsing.
let responderKeys = MSEKeyPair(privateKey: [UInt8](repeating: 3, count: 20))
let initiatorKeys = MSEKeyPair(privateKey: [UInt8](repeating: 9, count: 20))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = Array(UnsafeBufferPointer(start: data, count: size))[...]
    func take() -> UInt8 { input.popFirst() ?? 0 }
    let flags = take()
    let provide = MSECryptoMethods(rawValue: UInt32(take()))
    let padC = Int(UInt16(take()) | UInt16(take()) << 8) % (MSELimits.maxPadLength + 1)
    let iaLength = Int(take()) % (MSELimits.maxInitialPayloadLength + 1)
    let masks = (0..<Int(take() % 8)).map { _ in (Int(take()) << 8 | Int(take()), take()) }
    let skey = [UInt8](repeating: 0x42, count: 20)
    var index = SKEYIndex([[UInt8](repeating: 0x17, count: 20)])
    if flags & 1 == 0 { index.insert(skey) }
    let allowed = methodChoices[Int(flags >> 1) % 3]
    var responder = MSEResponder(
        index: index, allowed: allowed,
        randomness: MSEHandshakeRandomness(
            keyPair: responderKeys, clearPad: [1, 2, 3], encryptedPad: [4]))

    // The initiator's side of the conversation, as a real initiator would send it.
    var stream: [UInt8] = []
    if flags & 0x80 == 0,
        var initiator = try? MSEInitiator(
            skey: skey, provide: provide.isEmpty ? .rc4 : provide,
            initialPayload: [UInt8](repeating: 0x13, count: iaLength),
            randomness: MSEHandshakeRandomness(
                keyPair: initiatorKeys, clearPad: [UInt8](repeating: 7, count: Int(flags >> 3)),
                encryptedPad: [UInt8](repeating: 0, count: padC)))
    {
        if case .send(let first) = initiator.start() { stream += first.readableBytesView }
        // The responder's step 2 is computed by a twin (same randomness) so the initiator can answer it.
        var twin = MSEResponder(
            index: index, allowed: allowed,
            randomness: MSEHandshakeRandomness(
                keyPair: responderKeys, clearPad: [1, 2, 3], encryptedPad: [4]))
        for case .send(let step2) in twin.receive(ByteBuffer(bytes: stream)) {
            for case .send(let step3) in initiator.receive(step2) { stream += step3.readableBytesView }
        }
    }
    for (offset, mask) in masks where offset < stream.count { stream[offset] ^= mask }
    stream += input

    var outcomes = 0
    var position = 0
    while position < stream.count {
        let chunk = 1 + Int(stream[position]) % 64
        let end = min(stream.count, position + chunk)
        for action in responder.receive(ByteBuffer(bytes: stream[position..<end])) {
            switch action {
            case .complete(let result):
                outcomes += 1
                precondition(result.skey == skey, "completed for a torrent never offered")
                precondition(result.payload.readableBytes <= stream.count, "payload out of nowhere")
            case .fail: outcomes += 1
            case .send(let bytes):
                // Step 2 (96 + 512) or step 4 (8 + 4 + 2 + 512): never more than 608 bytes in one action.
                precondition(bytes.readableBytes <= 608, "oversized send")
            }
        }
        position = end
    }
    precondition(outcomes <= 1, "more than one outcome")
    if outcomes == 1 {
        precondition(responder.receive(ByteBuffer(bytes: [1, 2, 3])).isEmpty, "finished must stay quiet")
    }
    return 0
}
