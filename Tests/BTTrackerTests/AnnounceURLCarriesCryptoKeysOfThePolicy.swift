import BTTracker
import Testing

@Test(arguments: [
    (AnnounceEncryption.unsupported, ""),
    (.supported, "&supportcrypto=1"),
    (.required, "&supportcrypto=1&requirecrypto=1&cryptoport=6881"),
])
func announceURLCarriesTheCryptoKeysOfThePolicy(encryption: AnnounceEncryption, keys: String) {
    let request = AnnounceRequest(
        infoHash: Array(repeating: 0x41, count: 20), peerID: Array(repeating: 0x42, count: 20), port: 6881, left: 5,
        key: 0x1F, encryption: encryption)
    let url = HTTPTrackerProtocol.announceURL("http://t.example/announce", request)
    #expect(url.hasSuffix("&key=1F" + keys))
    #expect(url.contains("crypto") == (encryption != .unsupported))
}
