import BTBencode

/// Strict decoding of arbitrary bytes: on success the canonical re-encoding must equal the input exactly;
/// lenient decoding must keep the input as the root's raw bytes, and its canonical form must decode strictly.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let options = BencodeDecodingOptions(maxDepth: 64, maxTokens: 100_000)
    if let document = try? BencodeDocument(bytes, options: options) {
        let encoded = document.root.value.encoded()
        precondition(encoded == bytes, "strict round trip changed the bytes")
    }
    var lenient = options
    lenient.allowUnsortedKeys = true
    if let document = try? BencodeDocument(bytes, options: lenient) {
        precondition(Array(document.root.rawBytes) == bytes, "raw bytes differ from input")
        let canonical = document.root.value.encoded()
        do {
            _ = try BencodeDocument(canonical, options: options)
        } catch {
            // Lenient input may contain non-adjacent duplicate keys; canonicalising keeps one of each, so
            // the only acceptable strict failure is none at all.
            preconditionFailure("canonical form of a lenient document failed strict decoding: \(error)")
        }
    }
    _ = try? BencodeDocument.decodePrefix(bytes, options: options)
    return 0
}
