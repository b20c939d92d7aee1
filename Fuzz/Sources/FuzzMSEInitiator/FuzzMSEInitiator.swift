import BTMSE
import NIOCore

/// Feeds an ``MSEInitiator`` the replies of a real ``MSEResponder`` whose choices come from the input
/// (allowed methods, PadB and PadD lengths), corrupted at input-chosen offsets (XOR masks: on the encrypted
/// part a mask flips exactly those plaintext bits, reaching crypto_select and len(PadD)), followed by input
/// bytes, in input-chosen splits. Nothing may crash or hang; the machine reports at most one outcome and is
/// quiet once finished.
///
/// Input: [flags][padB lo][padB hi][padD lo][padD hi][mask count] then `mask count` × (offset hi, offset lo,
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
    let padB = Int(UInt16(take()) | UInt16(take()) << 8) % (MSELimits.maxPadLength + 1)
    let padD = Int(UInt16(take()) | UInt16(take()) << 8) % (MSELimits.maxPadLength + 1)
    let masks = (0..<Int(take() % 8)).map { _ in (Int(take()) << 8 | Int(take()), take()) }
    let skey = [UInt8](repeating: 0x42, count: 20)
    let provide = methodChoices[Int(flags) % 3]
    let allowed = methodChoices[Int(flags >> 2) % 3]
    let randomness = MSEHandshakeRandomness(
        keyPair: initiatorKeys, clearPad: [5, 6], encryptedPad: [7, 8, 9])
    guard
        var initiator = try? MSEInitiator(skey: skey, provide: provide, initialPayload: [1, 2], randomness: randomness)
    else { return 0 }
    guard case .send(let step1) = initiator.start() else { return 0 }

    // The responder's side of the conversation, as a real responder would send it: Yb and PadB, then (given
    // step 3 from a twin initiator with the same randomness) the encrypted VC, crypto_select and PadD.
    var stream: [UInt8] = []
    if flags & 0x80 == 0 {
        var responder = MSEResponder(
            index: SKEYIndex([skey]), allowed: allowed,
            randomness: MSEHandshakeRandomness(
                keyPair: responderKeys, clearPad: [UInt8](repeating: 1, count: padB),
                encryptedPad: [UInt8](repeating: 0, count: padD)))
        var twin = try! MSEInitiator(skey: skey, provide: provide, initialPayload: [1, 2], randomness: randomness)
        _ = twin.start()
        for case .send(let step2) in responder.receive(step1) {
            stream += step2.readableBytesView
            for case .send(let step3) in twin.receive(step2) {
                for case .send(let step4) in responder.receive(step3) { stream += step4.readableBytesView }
            }
        }
    }
    for (offset, mask) in masks where offset < stream.count { stream[offset] ^= mask }
    stream += input

    var outcomes = 0
    var position = 0
    while position < stream.count {
        let chunk = 1 + Int(stream[position]) % 64
        let end = min(stream.count, position + chunk)
        for action in initiator.receive(ByteBuffer(bytes: stream[position..<end])) {
            switch action {
            case .complete(let result):
                outcomes += 1
                precondition(provide.contains(result.method.bit), "selected a method never offered")
                precondition(result.payload.readableBytes <= stream.count, "payload out of nowhere")
            case .fail: outcomes += 1
            case .send(let bytes):
                // Step 3 at most: 20 + 20 + 8 + 4 + 2 + 512 + 2 + 68 bytes.
                precondition(bytes.readableBytes <= 636, "oversized send")
            }
        }
        position = end
    }
    precondition(outcomes <= 1, "more than one outcome")
    if outcomes == 1 {
        precondition(initiator.receive(ByteBuffer(bytes: [1, 2, 3])).isEmpty, "finished must stay quiet")
    }
    return 0
}
