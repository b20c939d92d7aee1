import BTBencode
import BTTracker

/// Scrape response parser: never crashes, and parsed results re-encoded parse back to the same results.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let results = try? HTTPTrackerProtocol.parseScrapeResponse(bytes) else { return 0 }
    // Lenient input may repeat a key; the canonical re-encoding keeps the first of each.
    var seen: Set<[UInt8]> = []
    let unique = results.filter { seen.insert($0.infoHash).inserted }
    let files = unique.map { result -> BencodeDictionary.Entry in
        let counts: BencodeValue = [
            "complete": .integer(Int64(result.complete)), "incomplete": .integer(Int64(result.incomplete)),
            "downloaded": .integer(Int64(result.downloaded)),
        ]
        return .init(key: result.infoHash[...], value: counts)
    }
    let encoded = BencodeValue.dictionary(
        BencodeDictionary([.init(key: Array("files".utf8)[...], value: .dictionary(BencodeDictionary(files)))])
    ).encoded()
    guard let again = try? HTTPTrackerProtocol.parseScrapeResponse(encoded) else {
        fatalError("re-encoded scrape response does not parse")
    }
    let sort: (ScrapeResult, ScrapeResult) -> Bool = { $0.infoHash.lexicographicallyPrecedes($1.infoHash) }
    guard again.sorted(by: sort) == unique.sorted(by: sort) else { fatalError("scrape round trip differs") }
    return 0
}
