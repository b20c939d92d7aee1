import Testing

@testable import BTMSE

/// The hand-written RC4 produces RFC 6229's keystreams, including at offsets 1024 and 4096 (MSE discards
/// the first 1024 bytes, so those are the first bytes it ever uses).
@Test func rc4KeystreamsMatchRFC6229() throws {
    let records = try MSETestSupport.records("rfc6229-rc4.txt")
    #expect(records.count >= 20)
    for record in records {
        let key = MSETestSupport.bytes(hex: record[0])
        let offset = Int(record[1])!
        let expected = MSETestSupport.bytes(hex: record[2])
        var cipher = MSEStreamCipher(key: key, discard: 0)
        let stream = cipher.keystream(offset + 16)
        #expect(Array(stream[offset...]) == expected, "key \(record[0]) offset \(offset)")
        // The discard of the constructor lands on the same bytes.
        var dropped = MSEStreamCipher(key: key, discard: offset)
        #expect(dropped.keystream(16) == expected, "key \(record[0]) discard \(offset)")
    }
}

/// Applying the cipher in arbitrary pieces gives the same bytes as one pass, and applying it twice with the
/// same key gives the plaintext back.
@Test func rc4IsTheSameInAnySplitAndDecrypts() {
    var rng = MSETestSupport.SeededGenerator(seed: 7)
    let plain = MSETestSupport.randomBytes(10_000, using: &rng)
    let key = MSETestSupport.randomBytes(20, using: &rng)
    var whole = plain
    var one = MSEStreamCipher(key: key)
    one.apply(to: &whole)
    #expect(whole != plain)
    var pieces = MSEStreamCipher(key: key)
    var split: [UInt8] = []
    var start = 0
    while start < plain.count {
        let end = min(plain.count, start + Int.random(in: 0...300, using: &rng))
        var chunk = Array(plain[start..<end])
        pieces.apply(to: &chunk)
        split += chunk
        start = end
    }
    #expect(split == whole)
    var back = MSEStreamCipher(key: key)
    back.apply(to: &whole)
    #expect(whole == plain)
}
