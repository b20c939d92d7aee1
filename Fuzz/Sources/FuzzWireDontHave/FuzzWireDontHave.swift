import BTWire

/// Decodes libtorrent's `lt_donthave` payload: decode(encode(x)) must equal x and encode(decode(bytes)) must
/// give the bytes back (four bytes, one encoding).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let message = try? DontHaveMessage(decoding: bytes) else { return 0 }
    precondition(message.piece >= 0, "lt_donthave decoded a negative piece")
    precondition(message.encoded() == bytes, "lt_donthave does not re-encode to its bytes")
    precondition((try? DontHaveMessage(decoding: message.encoded())) == message, "lt_donthave does not round-trip")
    return 0
}
