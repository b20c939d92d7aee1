import BTMetainfo
import BTWebSeed

/// A web seed's answer head as the server writes it (issue 18): `Content-Range`, `Content-Length` and
/// `Retry-After` text against a range we asked for.
///
/// Input: byte 0 picks the status (206, 200, 503, 302, or 404), bytes 1–8 the range asked for; the rest is
/// three header values separated by newlines.
/// - A `ContentRange` that parses prints back (`description`) to a text that parses to the same value, with
///   `first <= last < complete`.
/// - `WebSeedResponse.judge` never crashes; content it accepts is exactly the range's length, and for a 206
///   only when the header names exactly the bytes asked for.
/// - `Retry-After` seconds are within 0...86,400.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 9, bytes.count <= 1024 else { return 0 }
    let statuses = [206, 200, 503, 302, 404]
    let status = statuses[Int(bytes[0]) % statuses.count]
    let offset = Int64(bytes[1]) << 8 | Int64(bytes[2])
    let length = max(1, Int(bytes[3]) << 8 | Int(bytes[4]))
    let fileLength = offset + Int64(length) + Int64(bytes[5]) * Int64(bytes[6] & 1)
    let range = WebSeedRange(
        fileIndex: 0, offsetInFile: offset, length: length, fileLength: fileLength, isPadFile: false)
    let fields = String(decoding: bytes[9...], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        .map(String.init)
    let contentRange = fields.count > 0 ? fields[0] : nil
    let contentLength = fields.count > 1 ? fields[1] : nil
    let retryAfter = fields.count > 2 ? fields[2] : nil

    if let text = contentRange, let parsed = ContentRange(text) {
        precondition(ContentRange(parsed.description) == parsed, "\(text) does not print back")
        precondition(parsed.first <= parsed.last && parsed.completeLength.map { parsed.last < $0 } ?? true)
    }
    if let retryAfter, let seconds = WebSeedResponse.retryAfterSeconds(retryAfter) {
        precondition((0...WebSeedResponse.maximumRetryAfterSeconds).contains(seconds))
    }
    do {
        let verdict = try WebSeedResponse.judge(
            status: status, contentRange: contentRange, contentLength: contentLength, location: "/x",
            retryAfter: retryAfter, for: range)
        if case .content(let accepted) = verdict {
            precondition(accepted == length, "accepted \(accepted) bytes for a \(length)-byte range")
            if status == 206 {
                let parsed = ContentRange(contentRange ?? "")
                precondition(parsed?.first == offset && parsed?.last == offset + Int64(length) - 1)
            } else {
                precondition(range.isWholeFile, "a 200 accepted for part of a file")
            }
        }
    } catch {
        precondition(!error.reason.isEmpty)
    }
    return 0
}
