import Testing

@testable import BTWire

@Test func allowedFastSetMatchesTheBEP6ExampleVectors() {
    let infoHash = [UInt8](repeating: 0xaa, count: 20)
    let ip: [UInt8] = [80, 4, 4, 200]
    #expect(
        AllowedFastSet.generate(count: 7, pieceCount: 1313, infoHash: infoHash, ipv4: ip)
            == [1059, 431, 808, 1217, 287, 376, 1188])
    #expect(
        AllowedFastSet.generate(count: 9, pieceCount: 1313, infoHash: infoHash, ipv4: ip)
            == [1059, 431, 808, 1217, 287, 376, 1188, 353, 508])
    // The last octet is masked: the whole /24 shares one set.
    #expect(
        AllowedFastSet.generate(count: 9, pieceCount: 1313, infoHash: infoHash, ipv4: [80, 4, 4, 1])
            == AllowedFastSet.generate(count: 9, pieceCount: 1313, infoHash: infoHash, ipv4: ip))
}

@Test func allowedFastSetOfASmallTorrentIsEveryPiece() {
    let set = AllowedFastSet.generate(count: 10, pieceCount: 3, infoHash: Array(0..<20), ipv4: [1, 2, 3, 4])
    #expect(Set(set) == [0, 1, 2] && set.count == 3)
    #expect(AllowedFastSet.generate(count: 10, pieceCount: 0, infoHash: Array(0..<20), ipv4: [1, 2, 3, 4]).isEmpty)
}

@Test func sha1MatchesFIPSVectors() {
    #expect(SHA1.hash(Array("abc".utf8)) == WireTestSupport.hex("a9993e364706816aba3e25717850c26c9cd0d89d"))
    #expect(SHA1.hash([]) == WireTestSupport.hex("da39a3ee5e6b4b0d3255bfef95601890afd80709"))
    #expect(
        SHA1.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == WireTestSupport.hex("84983e441c3bd26ebaae4aa1f95129e5e54670f1"))
}
