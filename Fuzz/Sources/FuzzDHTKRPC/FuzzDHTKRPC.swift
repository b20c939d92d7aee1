import BTDHT

/// Decodes arbitrary bytes as a KRPC message (and as a DHT state file): never a crash; whatever decodes must
/// encode to bytes that decode to the same message (round trip), within the codec's limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let message = try? KRPCCodec.decode(bytes) {
        let encoded = KRPCCodec.encode(message)
        guard let again = try? KRPCCodec.decode(encoded) else { fatalError("re-encoded message does not decode") }
        precondition(again == message, "round trip changed the message")
        precondition(KRPCCodec.encode(again) == encoded, "encoding is not canonical")
        if case .response(let r) = message {
            precondition(r.response.nodes.count <= KRPCCodec.maximumNodes, "nodes above the limit")
            precondition(r.response.values.count <= KRPCCodec.maximumValues, "values above the limit")
        }
    }
    if let state = try? DHTState(decoding: bytes) {
        precondition(state.nodes.count <= DHTState.maximumNodes, "state above the limit")
        precondition((try? DHTState(decoding: state.encoded()))?.localID == state.localID, "state round trip")
    }
    return 0
}
