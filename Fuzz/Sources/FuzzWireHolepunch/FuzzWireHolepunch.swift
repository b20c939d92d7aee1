import BTMetainfo
import BTWire

/// BEP 55 `ut_holepunch` payloads: one that decodes re-encodes to the exact input, and the roles decide on it
/// without crashing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let message = try? HolepunchMessage(decoding: bytes) else { return 0 }
    guard message.encoded() == bytes else { fatalError("ut_holepunch round trip differs") }
    _ = HolepunchRoles.endpointToDial(for: message, from: .v4(0x7f00_0001))
    _ = HolepunchRoles.relay(
        rendezvous: message.endpoint, from: PeerEndpoint(address: .v4(0x0a00_0001), port: 1),
        target: .connected(supportsHolepunch: true))
    return 0
}
