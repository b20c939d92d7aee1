import BTWire

/// Decodes a BEP 10 extension handshake; decode(encode(x)) must equal x.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let handshake = try? ExtensionHandshake(decoding: bytes) else { return 0 }
    let again = try? ExtensionHandshake(decoding: handshake.encoded())
    precondition(again == handshake, "extension handshake does not round-trip")
    return 0
}
