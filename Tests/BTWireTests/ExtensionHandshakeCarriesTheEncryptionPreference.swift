import BTBencode
import Testing

@testable import BTWire

/// The `e` key of the BEP 10 handshake (issue 14): `e: 1` when the sender prefers encryption, `e: 0` when it
/// says it does not, absent when it says nothing (libtorrent's case); any non-zero integer reads as a
/// preference, a value of another type is ignored like the other optional fields.
@Suite struct ExtensionHandshakeCarriesTheEncryptionPreference {
    @Test func aPreferenceIsEncodedAsTheEKeyAndReadBack() throws {
        let handshake = ExtensionHandshake(messages: ["ut_pex": 1], prefersEncryption: true)
        let bytes = handshake.encoded()
        #expect(String(decoding: bytes, as: UTF8.self) == "d1:ei1e1:md6:ut_pexi1eee")
        #expect(try ExtensionHandshake(decoding: bytes).prefersEncryption == true)
        let declined = ExtensionHandshake(prefersEncryption: false).encoded()
        #expect(String(decoding: declined, as: UTF8.self) == "d1:ei0e1:mdee")
        #expect(try ExtensionHandshake(decoding: declined).prefersEncryption == false)
    }

    @Test func noEKeyMeansNoPreference() throws {
        #expect(String(decoding: ExtensionHandshake().encoded(), as: UTF8.self) == "d1:mdee")
        #expect(try ExtensionHandshake(decoding: Array("d1:mdee".utf8)).prefersEncryption == nil)
    }

    @Test(arguments: [("d1:ei2ee", true), ("d1:e1:1e", nil as Bool?), ("d1:eli1eee", nil)])
    func otherValuesOfEAreReadLeniently(payload: String, expected: Bool?) throws {
        #expect(try ExtensionHandshake(decoding: Array(payload.utf8)).prefersEncryption == expected)
    }
}
