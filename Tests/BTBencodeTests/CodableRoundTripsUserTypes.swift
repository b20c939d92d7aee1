import BTBencode
import Foundation
import Testing

@Suite struct CodableRoundTripsUserTypes {
    struct File: Codable, Equatable {
        var length: Int64
        var path: [String]
        var attr: String?
    }

    struct Info: Codable, Equatable {
        var name: String
        var pieceLength: Int
        var pieces: [UInt8]
        var files: [File]
        var isPrivate: Bool
        var tags: [String]
        var meta: [String: Int]

        enum CodingKeys: String, CodingKey {
            case name
            case pieceLength = "piece length"
            case pieces
            case files
            case isPrivate = "private"
            case tags
            case meta
        }
    }

    let sample = Info(
        name: "ü.txt", pieceLength: 16384, pieces: [0, 1, 2, 255],
        files: [File(length: 5, path: ["a", "b"], attr: nil), File(length: 0, path: ["c"], attr: "p")],
        isPrivate: true, tags: [], meta: ["z": 1, "a": -2])

    @Test func encodesCanonicallyAndDecodesBack() throws {
        let bytes = try BencodeEncoder().encode(sample)
        // Keys sorted, nil omitted, [UInt8] as a byte string, Bool as 0/1.
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(
            text.hasPrefix(
                "d5:filesld6:lengthi5e4:pathl1:a1:beed4:attr1:p6:lengthi0e4:pathl1:ceee4:metad1:ai-2e1:zi1ee"))
        #expect(try BencodeDocument(bytes).root.kind == .dictionary)  // strict decoding accepts it
        let decoded = try BencodeDecoder().decode(Info.self, from: bytes)
        #expect(decoded == sample)
    }

    @Test func emptyArrayOfStringsIsAnEmptyListNotAByteString() throws {
        // Regression: an empty [String] also passes `as? [UInt8]`.
        #expect(try BencodeEncoder().encode([String]()) == Array("le".utf8))
        #expect(try BencodeEncoder().encode([UInt8]()) == Array("0:".utf8))
        #expect(try BencodeEncoder().encode(Data([1, 2])) == [UInt8(ascii: "2"), UInt8(ascii: ":"), 1, 2])
    }

    @Test func typeMismatchNamesThePathAndOffset() throws {
        let bytes = Array("d4:name3:abc12:piece lengthi1ee".utf8)
        struct Wrong: Decodable { var name: Int }
        #expect {
            _ = try BencodeDecoder().decode(Wrong.self, from: bytes)
        } throws: { error in
            let e = error as? BencodeError
            return e?.code == .typeMismatch && e?.offset == 7 && e?.reason.contains("name") == true
        }
    }

    @Test func missingKeyIsKeyNotFound() throws {
        struct Needs: Decodable { var x: Int }
        #expect {
            _ = try BencodeDecoder().decode(Needs.self, from: Array("de".utf8))
        } throws: { ($0 as? BencodeError)?.code == .keyNotFound }
    }

    @Test func floatingPointIsUnsupported() {
        #expect { _ = try BencodeEncoder().encode(["x": 1.5]) } throws: {
            ($0 as? BencodeError)?.code == .unsupportedValue
        }
    }

    @Test func integerOutOfRangeForTargetType() {
        #expect { _ = try BencodeDecoder().decode(UInt8.self, from: Array("i300e".utf8)) } throws: {
            ($0 as? BencodeError)?.code == .typeMismatch
        }
    }
}
