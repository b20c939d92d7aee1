import BTWebSeed
import Testing

@Suite struct FileURLsFollowBEP19Rules {
    @Test func singleFileURLNamesTheFileItself() throws {
        let seed = try WebSeedURL("http://example.com/dl/file.iso")
        #expect(
            seed.fileURL(torrentName: "other name.iso", path: ["other name.iso"], isSingleFile: true)
                == "http://example.com/dl/file.iso")
    }

    @Test func singleFileURLEndingInSlashGetsTheNameAppended() throws {
        let seed = try WebSeedURL("http://example.com/dl/")
        #expect(
            seed.fileURL(torrentName: "my file.iso", path: ["my file.iso"], isSingleFile: true)
                == "http://example.com/dl/my%20file.iso")
    }

    @Test func multiFileURLGetsNameAndPathElementsEachEncoded() throws {
        let seed = try WebSeedURL("http://example.com/files/")
        #expect(
            seed.fileURL(torrentName: "My Album", path: ["CD 1", "01 #1?.flac"], isSingleFile: false)
                == "http://example.com/files/My%20Album/CD%201/01%20%231%3F.flac")
    }

    @Test func multiFileURLWithoutTrailingSlashGetsOne() throws {
        let seed = try WebSeedURL("https://example.com:8443/files")
        #expect(
            seed.fileURL(torrentName: "t", path: ["a", "b.txt"], isSingleFile: false)
                == "https://example.com:8443/files/t/a/b.txt")
    }

    @Test(arguments: [
        ("plain-Name_1.2~!*()", "plain-Name_1.2~!*()"),
        ("a b", "a%20b"),
        ("100%", "100%25"),
        ("a/b", "a%2Fb"),
        ("é", "%C3%A9"),
        ("x+y=z&w;", "x%2By%3Dz%26w%3B"),
        ("'quote'", "%27quote%27"),
    ])
    func pathElementsArePercentEncodedLikeLibtorrent(element: String, encoded: String) {
        #expect(WebSeedURL.escape(element) == encoded)
    }

    @Test(arguments: ["ftp://example.com/file", "udp://example.com:80/", "not a url", "http://user@host/x"])
    func nonHTTPURLsAreRefused(text: String) {
        #expect(throws: WebSeedError.self) { try WebSeedURL(text) }
    }
}
