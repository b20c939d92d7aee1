import BTMetainfo

/// Parses arbitrary bytes as a magnet link; whatever parses must format to a link that parses back equal.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let magnet = try? MagnetLink(parsing: text) else { return 0 }
    let again: MagnetLink
    do {
        again = try MagnetLink(parsing: magnet.uri)
    } catch {
        fatalError("formatted magnet does not parse: \(magnet.uri): \(error)")
    }
    precondition(again == magnet, "magnet round trip differs: \(magnet.uri)")
    precondition(again.uri == magnet.uri)
    return 0
}
