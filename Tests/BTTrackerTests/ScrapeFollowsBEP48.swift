import BTBencode
import BTTracker
import Testing

@Test(arguments: [
    ("http://example.com/announce", "http://example.com/scrape"),
    ("http://example.com/x/announce", "http://example.com/x/scrape"),
    ("http://example.com/announce.php", "http://example.com/scrape.php"),
    ("http://example.com/announce?x2%0644", "http://example.com/scrape?x2%0644"),
    ("http://example.com/x/announce?a=b/c", "http://example.com/x/scrape?a=b/c"),
])
func scrapeURLReplacesAnnounce(announce: String, scrape: String) {
    #expect(HTTPTrackerProtocol.scrapeURL(forAnnounce: announce) == scrape)
}

@Test(arguments: [
    "http://example.com/a", "http://example.com/announce/", "http://example.com/x%064announce",
    "http://example.com/my-announce", "http://example.com?announce",
])
func noScrapeWithoutAnnounceAsLastComponent(announce: String) {
    #expect(HTTPTrackerProtocol.scrapeURL(forAnnounce: announce) == nil)
}

@Test func scrapeRequestListsEveryHash() {
    let url = HTTPTrackerProtocol.scrapeRequestURL(
        "http://t/scrape", infoHashes: [Array(repeating: 0x41, count: 20), Array(repeating: 0xff, count: 20)])
    #expect(
        url == "http://t/scrape?info_hash=" + String(repeating: "A", count: 20) + "&info_hash="
            + String(repeating: "%FF", count: 20))
}

@Test func scrapeResponseIsParsed() throws {
    let a = Array(repeating: UInt8(1), count: 20)
    let b = Array(repeating: UInt8(2), count: 20)
    let body = BencodeValue.dictionary(
        BencodeDictionary([
            .init(
                key: Array("files".utf8)[...],
                value: .dictionary(
                    BencodeDictionary([
                        .init(key: a[...], value: ["complete": 3, "incomplete": 4, "downloaded": 9]),
                        .init(key: b[...], value: ["complete": 0]),
                        .init(key: Array("short".utf8)[...], value: ["complete": 1]),
                    ])))
        ])
    ).encoded()
    let results = try HTTPTrackerProtocol.parseScrapeResponse(body)
    #expect(
        results == [
            ScrapeResult(infoHash: a, complete: 3, incomplete: 4, downloaded: 9),
            ScrapeResult(infoHash: b, complete: 0, incomplete: 0, downloaded: 0),
        ])
}

@Test func scrapeFailuresAreTyped() {
    #expect(throws: TrackerError(.trackerFailure, "no scrape here")) {
        try HTTPTrackerProtocol.parseScrapeResponse((["failure reason": "no scrape here"] as BencodeValue).encoded())
    }
    #expect {
        try HTTPTrackerProtocol.parseScrapeResponse(Array("d5:filesi1ee".utf8))
    } throws: { ($0 as? TrackerError)?.code == .malformedResponse }
}
