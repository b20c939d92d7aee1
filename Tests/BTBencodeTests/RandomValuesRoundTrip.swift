import BTBencode
import Testing

/// Property test: canonical encoding of random values decodes strictly to the same value, and every
/// prefix of a valid encoding is rejected (never a crash or a partial success).
@Suite struct RandomValuesRoundTrip {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func random(_ rng: inout SplitMix, depth: Int) -> BencodeValue {
        switch depth > 3 ? Int.random(in: 0...1, using: &rng) : Int.random(in: 0...3, using: &rng) {
        case 0:
            return .integer(
                Int64.random(in: Int64.min...Int64.max, using: &rng) >> Int64.random(in: 0...63, using: &rng))
        case 1:
            let count = Int.random(in: 0...20, using: &rng)
            return .bytes(ArraySlice((0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        case 2:
            return .list((0..<Int.random(in: 0...5, using: &rng)).map { _ in random(&rng, depth: depth + 1) })
        default:
            var dictionary = BencodeDictionary()
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                let key = (0..<Int.random(in: 0...4, using: &rng)).map { _ in UInt8.random(in: 97...100, using: &rng) }
                dictionary[key] = random(&rng, depth: depth + 1)
            }
            return .dictionary(dictionary)
        }
    }

    /// Dictionaries compare in canonical (sorted) order.
    static func canonical(_ value: BencodeValue) -> BencodeValue {
        switch value {
        case .list(let items): return .list(items.map(canonical))
        case .dictionary(let d):
            return .dictionary(
                BencodeDictionary(d.sortedEntries.map { .init(key: $0.key, value: canonical($0.value)) }))
        default: return value
        }
    }

    @Test func encodeThenStrictDecodeIsIdentity() throws {
        var rng = SplitMix(state: 42)
        for _ in 0..<2000 {
            let value = Self.random(&rng, depth: 0)
            let bytes = value.encoded()
            let document = try BencodeDocument(bytes)
            #expect(document.root.value == Self.canonical(value))
            #expect(Array(document.root.rawBytes) == bytes)
        }
    }

    @Test func everyStrictPrefixIsRejected() throws {
        var rng = SplitMix(state: 7)
        for _ in 0..<200 {
            let bytes = Self.random(&rng, depth: 0).encoded()
            for cut in 0..<bytes.count {
                #expect(throws: BencodeError.self) { _ = try BencodeDocument(Array(bytes[0..<cut])) }
            }
        }
    }
}
