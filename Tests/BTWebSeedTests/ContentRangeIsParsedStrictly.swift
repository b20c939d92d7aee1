import BTWebSeed
import Testing

@Suite struct ContentRangeIsParsedStrictly {
    @Test(arguments: [
        ("bytes 0-99/100", ContentRange(first: 0, last: 99, completeLength: 100)),
        ("bytes 256-299/300", ContentRange(first: 256, last: 299, completeLength: 300)),
        ("Bytes  5-5/*", ContentRange(first: 5, last: 5, completeLength: nil)),
        ("bytes 0-1/2 ", ContentRange(first: 0, last: 1, completeLength: 2)),
        (
            "bytes 0-999999999999999998/999999999999999999",
            ContentRange(first: 0, last: 999_999_999_999_999_998, completeLength: 999_999_999_999_999_999)
        ),
    ])
    func validHeadersParse(text: String, expected: ContentRange) {
        #expect(ContentRange(text) == expected)
    }

    @Test(arguments: [
        "", "bytes", "bytes */100", "bytes 5-4/100", "bytes 0-100/100", "bytes 0-99", "bytes=0-99/100",
        "items 0-99/100", "bytes -1-99/100", "bytes 0-99/100x", "bytes 0-9999999999999999999/*",
        "bytes 0 - 99/100", String(repeating: " ", count: 200) + "bytes 0-1/2",
    ])
    func malformedHeadersAreRejected(text: String) {
        #expect(ContentRange(text) == nil)
    }

    @Test func descriptionRoundTrips() {
        for text in ["bytes 0-99/100", "bytes 7-7/*"] {
            #expect(ContentRange(text)?.description == text)
        }
    }
}
