import BTWire

/// Decodes a BEP 11 ut_pex payload; decode(encode(x)) must equal x.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let message = try? PEXMessage(decoding: bytes) else { return 0 }
    let again = try? PEXMessage(decoding: message.encoded())
    precondition(again == message, "ut_pex does not round-trip")
    return 0
}
