import BTWire

/// Decodes a BEP 52 hash message: the first byte picks `hash request` (21), `hashes` (22) or `hash reject`
/// (23) (any other byte: by its value modulo 3), the rest is the payload. decode(encode(x)) must equal x and
/// encode(decode(bytes)) must give the bytes back (the formats have one encoding).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let kind = bytes.first else { return 0 }
    let payload = Array(bytes.dropFirst())
    switch kind % 3 {
    case 0:
        guard let message = try? HashRequest(decoding: payload) else { return 0 }
        precondition(message.encoded() == payload, "hash request does not re-encode to its bytes")
        precondition((try? HashRequest(decoding: message.encoded())) == message, "hash request does not round-trip")
    case 1:
        guard let message = try? HashesMessage(decoding: payload) else { return 0 }
        precondition(message.encoded() == payload, "hashes does not re-encode to its bytes")
        precondition(message.baseHashes.count == message.request.length * 32, "hashes holds the wrong count")
        precondition(message.uncles.count == message.request.proofHashCount * 32, "hashes holds the wrong proof")
        precondition((try? HashesMessage(decoding: message.encoded())) == message, "hashes does not round-trip")
    default:
        // A reject has the request's payload.
        guard let message = try? HashRequest(decoding: payload) else { return 0 }
        precondition(message.encoded() == payload, "hash reject does not re-encode to its bytes")
    }
    return 0
}
