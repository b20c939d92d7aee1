import Foundation
import Testing

@testable import BTDaemon

/// The daemon's own JSON writer: what it writes is JSON that Foundation's parser reads back to the same value
/// (escapes, control characters, non-ASCII text, integers and fractions, nesting), with keys sorted.
@Suite struct SerializedJSONParsesBackToTheSameValue {
    @Test(arguments: [
        JSONValue.null, .bool(true), .bool(false), .int(0), .int(-42), .int(Int64.max), .int(Int64.min),
        .double(0.5), .double(-1.25e-7), .double(3.5e20), .double(1e300), .string(""),
        .string("quote \" backslash \\ slash / newline \n tab \t nul \u{0} bell \u{7} unit \u{1F}"),
        .string("héllo wörld ✓ 🎬"), .array([]), .object([:]),
        .object(["b": .array([.int(1), .string("x"), .null]), "a": .object(["nested": .bool(true)])]),
    ])
    func aValueSurvivesTheRoundTrip(value: JSONValue) throws {
        let text = value.serialized
        #expect(try JSONValue.parse(text) == value)
        _ = try JSONSerialization.jsonObject(with: Data(text), options: .fragmentsAllowed)
    }

    @Test func keysAreSortedAndWholeNumbersHaveNoFraction() {
        let value: JSONValue = ["zeta": 1, "alpha": .double(2), "mid": .double(.infinity)]
        #expect(String(decoding: value.serialized, as: UTF8.self) == #"{"alpha":2,"mid":0,"zeta":1}"#)
    }
}
