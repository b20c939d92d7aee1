import BTBencode
import BTDHT
import Crypto
import NIOCore
import Testing

@Suite struct ItemsMatchBEP44VectorsAndAreStoredWithChecks {
    static func hex(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var chars = Array(text.utf8).makeIterator()
        while let hi = chars.next(), let lo = chars.next() {
            out.append(UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16)!)
        }
        return out
    }

    /// BEP 44's (and libtorrent's signing_test1..3) public key, signatures and targets.
    static let publicKey = hex("77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548")
    static let value = Array("12:Hello World!".utf8)

    @Test func vector1MutableWithoutSalt() throws {
        let signed = DHTItem.Signed(
            publicKey: Self.publicKey,
            signature: Self.hex(
                "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01"
            ), sequence: 1)
        #expect(
            DHTItem.signedBytes(salt: [], sequence: 1, value: Self.value) == Array("3:seqi1e1:v12:Hello World!".utf8))
        let item = try #require(DHTItem(value: Self.value, signed: signed))
        #expect(item.target == NodeID(hex: "4a533d47ec9c7d95b1ad75f576cffc641853b750"))
        // Another sequence number breaks the signature.
        var wrong = signed
        wrong.sequence = 2
        #expect(DHTItem(value: Self.value, signed: wrong) == nil)
    }

    @Test func vector2MutableWithSalt() throws {
        let signed = DHTItem.Signed(
            publicKey: Self.publicKey,
            signature: Self.hex(
                "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17ddf9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08"
            ), sequence: 1, salt: Array("foobar".utf8))
        let item = try #require(DHTItem(value: Self.value, signed: signed))
        #expect(item.target == NodeID(hex: "411eba73b6f087ca51a3795d9c8c938d365e32c1"))
    }

    @Test func vector3Immutable() throws {
        let item = try DHTItem.immutable("Hello World!")
        #expect(item.value == Self.value)
        #expect(item.target == NodeID(hex: "e5f96f6f38320f0f33959cb4d3d656452117aadb"))
    }

    @Test func signedItemsVerifyAndRoundTripThroughKRPC() throws {
        let key = Curve25519.Signing.PrivateKey()
        let item = try DHTItem.mutable(["a": 1, "b": "x"], sequence: 7, salt: [1, 2], signingKey: key)
        #expect(DHTItem(value: item.value, signed: item.signed) != nil)
        let put = KRPCMessage.query(
            KRPCQueryMessage(transactionID: [1], senderID: T.id(1), query: .put(token: [9], item: item, cas: 6)))
        #expect(try KRPCCodec.decode(KRPCCodec.encode(put)) == put)
        #expect(throws: DHTError.self) { try DHTItem.immutable(.bytes(ArraySlice(repeating: 0, count: 1000))) }
    }

    /// A node stores what a valid put brings and refuses with BEP 44's codes what it must not.
    @Test func putChecksTokenSignatureAndSequence() throws {
        var node = DHTNode(configuration: DHTConfiguration(localID: T.id(0x10), randomSeed: 1), now: T.start)
        let source = T.endpoint("11.1.1.1")
        let key = Curve25519.Signing.PrivateKey()
        let v5 = try DHTItem.mutable("five", sequence: 5, signingKey: key)
        func send(_ query: KRPCQuery) -> KRPCMessage? {
            T.answer(node.receive(T.query(query, from: T.id(0x90)), from: source, now: T.start))
        }
        guard case .response(let got)? = send(.get(target: v5.target, sequence: nil)), let token = got.response.token
        else {
            Issue.record("no token")
            return
        }
        #expect(got.response.item == nil)
        guard case .error(let badToken)? = send(.put(token: [1], item: v5, cas: nil)) else { Issue.record(); return }
        #expect(badToken.code == 203)
        guard case .response? = send(.put(token: token, item: v5, cas: nil)) else { Issue.record("refused"); return }
        // Older sequence, CAS mismatch and a forged signature are refused with 302, 301, 206.
        let v4 = try DHTItem.mutable("four", sequence: 4, signingKey: key)
        guard case .error(let old)? = send(.put(token: token, item: v4, cas: nil)) else { Issue.record(); return }
        #expect(old.code == 302)
        let v6 = try DHTItem.mutable("six", sequence: 6, signingKey: key)
        guard case .error(let cas)? = send(.put(token: token, item: v6, cas: 3)) else { Issue.record(); return }
        #expect(cas.code == 301)
        var forgedSigned = v6.signed!
        forgedSigned.sequence = 9
        let forged = DHTItem(value: v6.value, signed: forgedSigned, verify: false)!
        guard case .error(let sig)? = send(.put(token: token, item: forged, cas: nil)) else { Issue.record(); return }
        #expect(sig.code == 206)
        // The stored item comes back, and not to a requester that already has its sequence number.
        guard case .response(let back)? = send(.get(target: v5.target, sequence: nil)) else { Issue.record(); return }
        #expect(back.response.item == v5)
        guard case .response(let current)? = send(.get(target: v5.target, sequence: 5)) else { Issue.record(); return }
        #expect(current.response.item == nil && current.response.sequence == 5)
    }

    /// Put then get across a simulated network.
    @Test func itemsPutInTheSimulatedNetworkAreFoundElsewhere() throws {
        var simulation = DHTSimulation(configuration: .init(seed: 9, lossRate: 0))
        for _ in 0..<80 {
            simulation.addNode()
            simulation.run(for: .milliseconds(50))
        }
        simulation.run(for: .seconds(20))
        _ = simulation.takeResults()
        let key = Curve25519.Signing.PrivateKey()
        let item = try DHTItem.mutable("hello", sequence: 1, salt: Array("s".utf8), signingKey: key)
        simulation.putItem(at: 3, item)
        simulation.run(for: .seconds(10))
        let put = simulation.takeResults()
        #expect(put.first?.result.announcedTo ?? 0 >= 4)
        simulation.getItem(at: 50, target: item.target, salt: Array("s".utf8))
        simulation.run(for: .seconds(10))
        let got = simulation.takeResults()
        #expect(got.first?.result.item == item)
    }
}
