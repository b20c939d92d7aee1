import BTStorage

/// libFuzzer entry point for the resume-data parser: any input either throws a `StorageError` with code
/// `invalidResumeData` or parses; what parses must encode to bytes that parse to the same value and
/// re-encode identically (canonical round trip).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let parsed: ResumeData
    do {
        parsed = try ResumeData(bytes: bytes)
    } catch let error as StorageError {
        precondition(error.code == .invalidResumeData, "unexpected error code \(error.code)")
        return 0
    } catch {
        preconditionFailure("untyped error \(error)")
    }
    let encoded = parsed.encoded()
    guard let again = try? ResumeData(bytes: encoded) else { preconditionFailure("encoded resume data does not parse") }
    precondition(again == parsed, "round trip changed the value")
    precondition(again.encoded() == encoded, "encoding is not canonical")
    return 0
}
