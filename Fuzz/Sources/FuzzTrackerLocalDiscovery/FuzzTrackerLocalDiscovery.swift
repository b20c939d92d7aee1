import BTMetainfo
import BTTracker
import NIOCore

/// BEP 14 datagrams: a message that parses re-encodes to bytes that parse to the same message (when the encoding
/// still fits one datagram), and the announcer answers any datagram without crashing, naming only peers of its
/// own torrent.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let message = try? LocalDiscoveryMessage(parsing: bytes) {
        let encoded = message.encoded()
        if encoded.count <= LocalDiscoveryMessage.maximumLength {
            guard (try? LocalDiscoveryMessage(parsing: encoded)) == message else {
                fatalError("local discovery round trip differs")
            }
        }
    }
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let ours = [UInt8](repeating: 0xab, count: 20)
    var announcer = LocalDiscoveryAnnouncer(cookie: "1", listenPort: 6881)
    announcer.add(infoHash: ours, isPrivate: false, now: now)
    if case .success(let peers) = announcer.received(bytes, from: .v4(0x7f00_0001), now: now) {
        guard peers.allSatisfy({ $0.infoHash == ours && $0.port > 0 }) else { fatalError("a peer of another torrent") }
    }
    return 0
}
