/// One side's ephemeral Diffie-Hellman key pair for the MSE/PE handshake: a 160-bit private exponent X and
/// the public key Y = 2^X mod P over the spec's 768-bit prime P.
///
/// Each handshake uses a fresh key pair. The arithmetic is `Montgomery768` (hand-written: see there why).
public struct MSEKeyPair: Sendable {
    /// Bytes of a public key or shared secret: 768 bits, big-endian, leading zeros kept.
    public static let publicKeyLength = 96
    /// Bytes of a private key: 160 bits, as the spec recommends and libtorrent uses.
    public static let privateKeyLength = 20

    /// The private exponent X, big-endian.
    public let privateKey: [UInt8]
    /// The public key Y = 2^X mod P, exactly 96 bytes big-endian.
    public let publicKey: [UInt8]

    /// A key pair with the private key `privateKey` (20 bytes, big-endian; tests inject a fixed one).
    ///
    /// - Precondition: `privateKey` holds ``privateKeyLength`` bytes.
    public init(privateKey: [UInt8]) {
        precondition(privateKey.count == Self.privateKeyLength, "MSE private keys are 20 bytes")
        self.privateKey = privateKey
        var two = [UInt64](repeating: 0, count: Montgomery768.limbs)
        two[0] = 2
        self.publicKey = Montgomery768.bigEndianBytes(Montgomery768.power(two, exponent: privateKey))
    }

    /// A key pair with a private key from the system's secure random generator (`getrandom` on Linux).
    public init() {
        self.init(privateKey: secureRandomBytes(Self.privateKeyLength))
    }

    /// Whether `publicKey` is acceptable from a peer: exactly 96 bytes and within [2, P − 2]. The values
    /// 0, 1 and P − 1 (and anything not reduced) would force a shared secret an eavesdropper knows.
    public static func isValidPublicKey(_ publicKey: some Collection<UInt8>) -> Bool {
        guard publicKey.count == publicKeyLength else { return false }
        let value = Montgomery768.limbs(fromBigEndian: publicKey)
        var two = [UInt64](repeating: 0, count: Montgomery768.limbs)
        two[0] = 2
        let pMinusOne = Montgomery768.subtract(Montgomery768.prime, [1] + [UInt64](repeating: 0, count: 11))
        return !Montgomery768.isLess(value, two) && Montgomery768.isLess(value, pMinusOne)
    }

    /// The shared secret S = Y_peer^X mod P (96 bytes big-endian), or nil when `peerPublicKey` is refused
    /// by ``isValidPublicKey(_:)``.
    public func sharedSecret(with peerPublicKey: some Collection<UInt8>) -> [UInt8]? {
        guard Self.isValidPublicKey(peerPublicKey) else { return nil }
        let base = Montgomery768.limbs(fromBigEndian: peerPublicKey)
        return Montgomery768.bigEndianBytes(Montgomery768.power(base, exponent: privateKey))
    }
}
