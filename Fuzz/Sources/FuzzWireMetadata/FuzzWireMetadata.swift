import BTWire

/// Decodes a BEP 9 ut_metadata payload; decode(encode(x)) must equal x.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let message = try? MetadataMessage(decoding: bytes) else { return 0 }
    let again = try? MetadataMessage(decoding: message.encoded())
    precondition(again == message, "ut_metadata does not round-trip")
    return 0
}
