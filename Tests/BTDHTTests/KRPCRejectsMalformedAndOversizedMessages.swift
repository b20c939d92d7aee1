import BTDHT
import Testing

/// Named negative vectors: each bad message gets a typed error with the expected code, never a crash.
@Suite struct KRPCRejectsMalformedAndOversizedMessages {
    static let id = "abcdefghij0123456789"

    static func response(_ body: String) -> [UInt8] { Array("d1:rd2:id20:\(id)\(body)e1:t2:aa1:y1:re".utf8) }

    @Test(arguments: [
        ("not_bencode", Array("d1:t".utf8), DHTError.Code.invalidBencode),
        ("not_a_dictionary", Array("li1ee".utf8), .malformedMessage),
        ("no_transaction_id", Array("d1:y1:qe".utf8), .malformedMessage),
        ("unknown_type", Array("d1:t2:aa1:y1:xe".utf8), .malformedMessage),
        ("short_id", Array("d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe".utf8), .malformedMessage),
        ("query_without_arguments", Array("d1:q4:ping1:t2:aa1:y1:qe".utf8), .malformedMessage),
        ("nodes_not_multiple_of_26", response("5:nodes5:abcde"), .malformedMessage),
        ("nodes6_not_multiple_of_38", response("6:nodes626:\(id)123456"), .malformedMessage),
        ("value_of_wrong_length", response("6:valuesl5:abcdee"), .malformedMessage),
        ("values_not_a_list", response("6:values6:abcdef"), .malformedMessage),
        ("token_too_long", response("5:token65:" + String(repeating: "x", count: 65)), .limitExceeded),
        ("too_many_nodes", response("5:nodes858:" + String(repeating: "n", count: 858)), .limitExceeded),
        ("transaction_id_too_long", Array("d1:t33:\(String(repeating: "t", count: 33))1:y1:ee".utf8), .limitExceeded),
        ("error_without_list", Array("d1:ei201e1:t2:aa1:y1:ee".utf8), .malformedMessage),
        (
            "announce_port_out_of_range",
            Array("d1:ad2:id20:\(id)9:info_hash20:\(id)4:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe".utf8),
            .malformedMessage
        ),
        (
            "announce_without_port",
            Array("d1:ad2:id20:\(id)9:info_hash20:\(id)5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe".utf8),
            .malformedMessage
        ),
        (
            "deep_nesting",
            Array(
                ("d1:t2:aa1:y1:r1:r" + String(repeating: "l", count: 50) + String(repeating: "e", count: 50) + "e").utf8
            ), .invalidBencode
        ),
    ])
    func rejected(_ vector: (String, [UInt8], DHTError.Code)) {
        #expect(throws: DHTError.self, "\(vector.0)") { try KRPCCodec.decode(vector.1) }
        do {
            _ = try KRPCCodec.decode(vector.1)
        } catch {
            #expect(error.code == vector.2, "\(vector.0): \(error)")
        }
    }

    @Test func datagramsAboveTheLimitAreRefusedBeforeParsing() {
        let huge = Array("d1:t2:aa1:y1:e".utf8) + [UInt8](repeating: 0x30, count: KRPCCodec.maximumMessageSize)
        do {
            _ = try KRPCCodec.decode(huge)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .limitExceeded)
        }
    }
}
