/// What the head of a web seed's answer to one ranged GET means (BEP 19; libtorrent's
/// `web_peer_connection::on_receive`): content to read, a redirect to follow, or an error.
public enum WebSeedResponse: Hashable, Sendable {
    /// Read exactly `length` body bytes: they are the range asked for.
    case content(length: Int)
    /// Follow `location` (already checked to be non-empty; the caller resolves it against the request URL and
    /// checks its host against the address policy).
    case redirect(location: String)

    /// Most seconds of `Retry-After` honoured (one day); a larger value is read as this.
    public static let maximumRetryAfterSeconds = 86_400

    /// Judges a response head to a GET of `range`.
    ///
    /// - `206` must carry a `Content-Range` naming exactly the bytes asked for (and the file's length, or `*`);
    ///   a `Content-Length`, if present, must equal the range's length.
    /// - `200` is accepted only when the range is the whole file and the `Content-Length`, if any, is its length
    ///   (a server that ignores `Range` sends the whole file; for part of a file that is an error, not a reason
    ///   to read and discard the file's start).
    /// - `301`, `302`, `303`, `307`, `308` with a `Location` are redirects.
    /// - `503` and `429` are ``WebSeedError/Code/unavailable`` with the `Retry-After` seconds, if readable.
    /// - Anything else is ``WebSeedError/Code/httpStatus``.
    public static func judge(
        status: Int, contentRange: String?, contentLength: String?, location: String?, retryAfter: String?,
        for range: WebSeedRange
    ) throws(WebSeedError) -> WebSeedResponse {
        switch status {
        case 206:
            guard let text = contentRange, let parsed = ContentRange(text) else {
                throw WebSeedError(
                    .badContentRange, "206 with Content-Range \(contentRange.map { "\($0.prefix(80))" } ?? "missing")")
            }
            let wanted = ContentRange(
                first: range.offsetInFile, last: range.offsetInFile + Int64(range.length) - 1,
                completeLength: range.fileLength)
            guard parsed.first == wanted.first, parsed.last == wanted.last,
                parsed.completeLength == nil || parsed.completeLength == range.fileLength
            else {
                throw WebSeedError(.badContentRange, "asked for \(wanted), the server sent \(parsed)")
            }
            try checkLength(contentLength, expected: range.length)
            return .content(length: range.length)
        case 200:
            guard range.isWholeFile else {
                throw WebSeedError(
                    .badContentRange,
                    "200 (the whole file) to a request for \(range.rangeHeader) of a \(range.fileLength)-byte file")
            }
            try checkLength(contentLength, expected: range.length)
            return .content(length: range.length)
        case 301, 302, 303, 307, 308:
            guard let location, !location.isEmpty else {
                throw WebSeedError(.badRedirect, "\(status) without a Location")
            }
            return .redirect(location: location)
        case 503, 429:
            throw WebSeedError(
                .unavailable, "HTTP \(status)", retryAfterSeconds: retryAfter.flatMap(retryAfterSeconds))
        default:
            throw WebSeedError(.httpStatus, "HTTP \(status)")
        }
    }

    /// `Retry-After` as delta-seconds (RFC 9110 §10.2.3), capped at ``maximumRetryAfterSeconds``; nil for an
    /// HTTP date or anything else (the caller's own back-off applies then).
    public static func retryAfterSeconds(_ text: String) -> Int? {
        let trimmed = text.utf8.drop { $0 == 0x20 || $0 == 0x09 }.prefix { $0 != 0x20 && $0 != 0x09 }
        guard !trimmed.isEmpty, trimmed.count <= 32, trimmed.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        guard trimmed.count <= 9 else { return maximumRetryAfterSeconds }
        let value = trimmed.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return min(value, maximumRetryAfterSeconds)
    }

    private static func checkLength(_ header: String?, expected: Int) throws(WebSeedError) {
        guard let header else { return }
        guard let value = Int64(header.trimmingSpaces), value == Int64(expected) else {
            throw WebSeedError(.wrongLength, "Content-Length \(header.prefix(40)), expected \(expected)")
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        let start = firstIndex { $0 != " " && $0 != "\t" } ?? endIndex
        let end = lastIndex { $0 != " " && $0 != "\t" }.map { index(after: $0) } ?? endIndex
        return start < end ? self[start..<end] : ""
    }
}
