import BTBencode
import Crypto

/// A BEP 44 item: an immutable value stored under the SHA-1 of its encoding, or a mutable value stored
/// under the SHA-1 of an ed25519 public key (and salt), signed with the matching private key.
public struct DHTItem: Hashable, Sendable {
    /// BEP 44: a value's bencoded form may be at most 1000 bytes.
    public static let maximumValueSize = 1000
    /// BEP 44: a salt may be at most 64 bytes.
    public static let maximumSaltSize = 64

    /// The signed part of a mutable item.
    public struct Signed: Hashable, Sendable {
        /// The ed25519 public key (32 bytes).
        public var publicKey: [UInt8]
        /// The ed25519 signature (64 bytes) over salt, sequence number and value.
        public var signature: [UInt8]
        /// The sequence number; a newer version has a higher one.
        public var sequence: Int64
        /// The salt (may be empty), which lets one key publish several items.
        public var salt: [UInt8]

        /// Creates the signed part.
        public init(publicKey: [UInt8], signature: [UInt8], sequence: Int64, salt: [UInt8] = []) {
            self.publicKey = publicKey
            self.signature = signature
            self.sequence = sequence
            self.salt = salt
        }
    }

    /// The value, bencoded in canonical form (the `v` of BEP 44).
    public let value: [UInt8]
    /// The key, signature, sequence and salt of a mutable item; nil for an immutable one.
    public let signed: Signed?

    init(value: [UInt8], signed: Signed?) {
        self.value = value
        self.signed = signed
    }

    /// An immutable item holding `value`.
    public static func immutable(_ value: BencodeValue) throws(DHTError) -> DHTItem {
        let encoded = value.encoded()
        guard encoded.count <= maximumValueSize else { throw DHTError(.limitExceeded, "value above 1000 bytes") }
        return DHTItem(value: encoded, signed: nil)
    }

    /// A mutable item holding `value`, signed with `key`.
    public static func mutable(
        _ value: BencodeValue, sequence: Int64, salt: [UInt8] = [], signingKey key: Curve25519.Signing.PrivateKey
    ) throws -> DHTItem {
        let encoded = value.encoded()
        guard encoded.count <= maximumValueSize else { throw DHTError(.limitExceeded, "value above 1000 bytes") }
        guard salt.count <= maximumSaltSize else { throw DHTError(.limitExceeded, "salt above 64 bytes") }
        let signature = try key.signature(for: signedBytes(salt: salt, sequence: sequence, value: encoded))
        return DHTItem(
            value: encoded,
            signed: Signed(
                publicKey: Array(key.publicKey.rawRepresentation), signature: Array(signature), sequence: sequence,
                salt: salt))
    }

    /// An item received from the network, checked: sizes within BEP 44's limits, and for a mutable item a
    /// valid signature. Nil if it fails any check.
    public init?(value: [UInt8], signed: Signed?, verify: Bool = true) {
        guard value.count <= Self.maximumValueSize else { return nil }
        if let signed {
            guard signed.publicKey.count == 32, signed.signature.count == 64, signed.salt.count <= Self.maximumSaltSize
            else { return nil }
            if verify {
                guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: signed.publicKey),
                    key.isValidSignature(
                        signed.signature,
                        for: Self.signedBytes(salt: signed.salt, sequence: signed.sequence, value: value))
                else { return nil }
            }
        }
        self.init(value: value, signed: signed)
    }

    /// The bytes a mutable item's signature covers (BEP 44): `4:salt<salt>` when there is a salt, then
    /// `3:seqi<seq>e1:v<value>`.
    public static func signedBytes(salt: [UInt8], sequence: Int64, value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        if !salt.isEmpty { out += Array("4:salt\(salt.count):".utf8) + salt }
        out += Array("3:seqi\(sequence)e1:v".utf8)
        out += value
        return out
    }

    /// Where the item is stored: SHA-1 of the value (immutable) or of public key and salt (mutable).
    public var target: NodeID {
        if let signed { return Self.target(publicKey: signed.publicKey, salt: signed.salt) }
        return NodeID(bytes: Array(Insecure.SHA1.hash(data: value)))!
    }

    /// The target of the mutable items of `publicKey` with `salt`.
    public static func target(publicKey: [UInt8], salt: [UInt8] = []) -> NodeID {
        NodeID(bytes: Array(Insecure.SHA1.hash(data: publicKey + salt)))!
    }
}
