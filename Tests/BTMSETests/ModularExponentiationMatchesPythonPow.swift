import Testing

@testable import BTMSE

/// The hand-written 768-bit Montgomery exponentiation gives the same results as Python's `pow()` (the
/// vectors in `Fixtures/dh768-pow.txt`, made by `make-dh768-pow.py`), for edge bases (2, P − 2) and
/// exponents (1, 2¹⁶⁰ − 1, a lone top bit) and random ones.
@Test func modularExponentiationMatchesPythonPow() throws {
    let records = try MSETestSupport.records("dh768-pow.txt")
    #expect(records.count == 36)
    for record in records {
        let base = Montgomery768.limbs(fromBigEndian: MSETestSupport.bytes(hex: record[0]))
        let exponent = MSETestSupport.bytes(hex: record[1])
        let result = Montgomery768.bigEndianBytes(Montgomery768.power(base, exponent: exponent))
        #expect(MSETestSupport.hex(result) == record[2], "base \(record[0].prefix(16))… exponent \(record[1])")
    }
}

/// Key pairs agree on the shared secret from either side, and the public key is 2^X mod P.
@Test func bothSidesDeriveTheSameSecret() throws {
    let records = try MSETestSupport.records("dh768-pow.txt")
    let vector = try #require(records.first { $0[0] == String(repeating: "0", count: 190) + "02" && $0[1].count == 40 })
    let pair = MSEKeyPair(privateKey: MSETestSupport.bytes(hex: vector[1]))
    #expect(MSETestSupport.hex(pair.publicKey) == vector[2])
    var rng = MSETestSupport.SeededGenerator(seed: 99)
    for _ in 0..<4 {
        let a = MSEKeyPair(privateKey: MSETestSupport.randomBytes(20, using: &rng))
        let b = MSEKeyPair(privateKey: MSETestSupport.randomBytes(20, using: &rng))
        let secretA = try #require(a.sharedSecret(with: b.publicKey))
        let secretB = try #require(b.sharedSecret(with: a.publicKey))
        #expect(secretA == secretB && secretA.count == 96)
    }
}

/// Public keys outside [2, P − 2] (0, 1, P − 1, P, 2⁷⁶⁸ − 1) and of the wrong length are refused; the
/// bounds themselves are accepted.
@Test func publicKeysOutsideTheRangeAreRefused() {
    let p = Montgomery768.bigEndianBytes(Montgomery768.prime)
    func minus(_ value: UInt8) -> [UInt8] {
        var bytes = p
        bytes[95] -= value  // P ends in 0x63: no borrow for small values
        return bytes
    }
    let zero = [UInt8](repeating: 0, count: 96)
    let one = [UInt8](repeating: 0, count: 95) + [1]
    let two = [UInt8](repeating: 0, count: 95) + [2]
    #expect(!MSEKeyPair.isValidPublicKey(zero))
    #expect(!MSEKeyPair.isValidPublicKey(one))
    #expect(MSEKeyPair.isValidPublicKey(two))
    #expect(MSEKeyPair.isValidPublicKey(minus(2)))
    #expect(!MSEKeyPair.isValidPublicKey(minus(1)))
    #expect(!MSEKeyPair.isValidPublicKey(p))
    #expect(!MSEKeyPair.isValidPublicKey([UInt8](repeating: 0xff, count: 96)))
    #expect(!MSEKeyPair.isValidPublicKey(two.dropFirst()))
    let pair = MSEKeyPair(privateKey: [UInt8](repeating: 5, count: 20))
    #expect(pair.sharedSecret(with: minus(1)) == nil)
}
