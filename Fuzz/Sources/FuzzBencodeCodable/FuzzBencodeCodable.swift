import BTBencode

struct FuzzFile: Codable, Equatable {
    var length: Int64
    var path: [String]
    var attr: String?
}

struct FuzzInfo: Codable, Equatable {
    var name: String?
    var pieceLength: Int?
    var pieces: [UInt8]?
    var files: [FuzzFile]?
    var flag: Bool?
    var nested: [String: [Int32]]?

    enum CodingKeys: String, CodingKey {
        case name
        case pieceLength = "piece length"
        case pieces
        case files
        case flag
        case nested
    }
}

/// Codable decoding of arbitrary bytes into a torrent-shaped type: on success, encoding and decoding again
/// gives an equal value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let decoder = BencodeDecoder(
        options: BencodeDecodingOptions(allowUnsortedKeys: true, maxDepth: 32, maxTokens: 50_000))
    guard let value = try? decoder.decode(FuzzInfo.self, from: bytes) else { return 0 }
    let encoded: [UInt8]
    do {
        encoded = try BencodeEncoder().encode(value)
    } catch {
        preconditionFailure("a decoded value failed to encode: \(error)")
    }
    let again = try? BencodeDecoder(options: .strict).decode(FuzzInfo.self, from: encoded)
    precondition(again == value, "Codable round trip changed the value")
    return 0
}
