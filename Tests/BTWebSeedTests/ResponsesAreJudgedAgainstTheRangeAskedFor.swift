import BTWebSeed
import Testing

@Suite struct ResponsesAreJudgedAgainstTheRangeAskedFor {
    let part = WebSeedRange(fileIndex: 0, offsetInFile: 100, length: 50, fileLength: 1000, isPadFile: false)
    let whole = WebSeedRange(fileIndex: 0, offsetInFile: 0, length: 1000, fileLength: 1000, isPadFile: false)

    func judge(
        _ status: Int, range: String? = nil, length: String? = nil, location: String? = nil,
        retryAfter: String? = nil, for request: WebSeedRange
    ) throws(WebSeedError) -> WebSeedResponse {
        try WebSeedResponse.judge(
            status: status, contentRange: range, contentLength: length, location: location, retryAfter: retryAfter,
            for: request)
    }

    func code(_ body: () throws(WebSeedError) -> WebSeedResponse) -> WebSeedError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    @Test func partialContentWithTheRightRangeIsRead() throws {
        #expect(try judge(206, range: "bytes 100-149/1000", length: "50", for: part) == .content(length: 50))
        #expect(try judge(206, range: "bytes 100-149/*", for: part) == .content(length: 50))
    }

    @Test func partialContentForOtherBytesIsRefused() {
        #expect(
            code { () throws(WebSeedError) in try judge(206, range: "bytes 0-49/1000", for: part) }?.code
                == .badContentRange)
        #expect(
            code { () throws(WebSeedError) in try judge(206, range: "bytes 100-149/999", for: part) }?.code
                == .badContentRange)
        #expect(code { () throws(WebSeedError) in try judge(206, for: part) }?.code == .badContentRange)
    }

    @Test func aWrongContentLengthIsRefused() {
        let error = code { () throws(WebSeedError) in
            try judge(206, range: "bytes 100-149/1000", length: "51", for: part)
        }
        #expect(error?.code == .wrongLength)
    }

    @Test func okIsReadOnlyForAWholeFileRequest() throws {
        #expect(try judge(200, length: "1000", for: whole) == .content(length: 1000))
        #expect(code { () throws(WebSeedError) in try judge(200, length: "1000", for: part) }?.code == .badContentRange)
        #expect(code { () throws(WebSeedError) in try judge(200, length: "999", for: whole) }?.code == .wrongLength)
    }

    @Test func unavailableCarriesRetryAfter() {
        let error = code { () throws(WebSeedError) in try judge(503, retryAfter: "120", for: part) }
        #expect(error?.code == .unavailable && error?.retryAfterSeconds == 120)
        let dated = code { () throws(WebSeedError) in
            try judge(503, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT", for: part)
        }
        #expect(dated?.code == .unavailable && dated?.retryAfterSeconds == nil)
        #expect(code { () throws(WebSeedError) in try judge(429, for: part) }?.code == .unavailable)
    }

    @Test(
        arguments: [("0", 0), (" 7 ", 7), ("99999999999", 86_400), ("-1", nil), ("1.5", nil), ("", nil)]
            as [(String, Int?)])
    func retryAfterSecondsAreBounded(text: String, seconds: Int?) {
        #expect(WebSeedResponse.retryAfterSeconds(text) == seconds)
    }

    @Test func redirectsNeedALocation() throws {
        #expect(try judge(302, location: "/elsewhere", for: part) == .redirect(location: "/elsewhere"))
        #expect(code { () throws(WebSeedError) in try judge(301, for: part) }?.code == .badRedirect)
    }

    @Test(arguments: [404, 403, 500, 416, 204])
    func otherStatusesAreErrors(status: Int) {
        #expect(code { () throws(WebSeedError) in try judge(status, for: part) }?.code == .httpStatus)
    }
}
