import BTBencode
import Testing

@Suite struct StrictDecodingRejectsMalformedInput {
    @Test(arguments: [
        ("i03e", BencodeError.Code.leadingZero, 1),
        ("i-0e", .negativeZero, 0),
        ("ie", .invalidInteger, 1),
        ("i9223372036854775808e", .integerOverflow, 0),
        ("03:abc", .leadingZero, 0),
        ("5:abc", .lengthPastEnd, 0),
        ("3x:abc", .invalidLength, 1),
        ("d1:bi1e1:ai2ee", .unsortedKeys, 7),
        ("d1:ai1e1:ai2ee", .duplicateKey, 7),
        ("i1ei2e", .trailingBytes, 3),
        ("di1ei2ee", .nonStringKey, 1),
        ("d1:ae", .missingValue, 4),
        ("l", .unexpectedEnd, 1),
        ("", .unexpectedEnd, 0),
        ("x", .unexpectedByte, 0),
    ])
    func rejectsWithCodeAndOffset(input: String, code: BencodeError.Code, offset: Int) {
        #expect {
            _ = try BencodeDocument(Array(input.utf8))
        } throws: { error in
            guard let error = error as? BencodeError else { return false }
            return error.code == code && error.offset == offset
        }
    }

    @Test func depthLimitStopsDeepNesting() {
        let deep = Array(repeating: UInt8(ascii: "l"), count: 101) + Array(repeating: UInt8(ascii: "e"), count: 101)
        #expect(throws: BencodeError.self) { _ = try BencodeDocument(deep) }
        #expect(throws: Never.self) { _ = try BencodeDocument(Array(deep.dropFirst().dropLast())) }
    }

    @Test func lenientAcceptsUnsortedKeysAndKeepsRawBytes() throws {
        let input = Array("d4:infod1:bi1e1:ai2ee1:x0:e".utf8)
        let document = try BencodeDocument(input, options: .lenient)
        let info = try #require(document.root["info"])
        #expect(Array(info.rawBytes) == Array("d1:bi1e1:ai2ee".utf8))
        #expect(info["a"]?.integer == 2)
        // Canonical re-encoding sorts the keys, which is why info-hashes use the raw bytes.
        #expect(info.value.encoded() == Array("d1:ai2e1:bi1ee".utf8))
    }

    @Test func roundTripsCanonicalInput() throws {
        let input = Array("d1:ali-9223372036854775808ei9223372036854775807e0:e1:b3:xyze".utf8)
        let value = try BencodeValue(decoding: input)
        #expect(value.encoded() == input)
    }
}
