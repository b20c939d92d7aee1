import Crypto
import NIOCore

/// The hashes the MSE/PE handshake derives from the shared secret S and the SKEY (all SHA-1, as the
/// spec's `HASH`).
enum MSEKeys {
    static func hash(_ label: String, _ parts: [UInt8]...) -> [UInt8] {
        var hasher = Insecure.SHA1()
        hasher.update(data: Array(label.utf8))
        for part in parts { hasher.update(data: part) }
        return Array(hasher.finalize())
    }

    /// `HASH('req1', S)`: the responder's synchronisation marker.
    static func req1(_ secret: [UInt8]) -> [UInt8] { hash("req1", secret) }

    /// `HASH('req2', SKEY) xor HASH('req3', S)`: the obfuscated torrent the initiator asks for.
    static func obfuscatedSKEY(_ skey: [UInt8], secret: [UInt8]) -> [UInt8] {
        zip(hash("req2", skey), hash("req3", secret)).map { $0 ^ $1 }
    }

    /// `HASH('req2', SKEY)` recovered from the obfuscated value by the responder.
    static func req2(fromObfuscated obfuscated: [UInt8], secret: [UInt8]) -> [UInt8] {
        zip(obfuscated, hash("req3", secret)).map { $0 ^ $1 }
    }

    /// The RC4 stream from the initiator to the responder: `RC4(HASH('keyA', S, SKEY))`, first 1024 bytes
    /// discarded.
    static func initiatorToResponder(secret: [UInt8], skey: [UInt8]) -> MSEStreamCipher {
        MSEStreamCipher(key: hash("keyA", secret, skey), discard: 1024)
    }

    /// The RC4 stream from the responder to the initiator: `RC4(HASH('keyB', S, SKEY))`, first 1024 bytes
    /// discarded.
    static func responderToInitiator(secret: [UInt8], skey: [UInt8]) -> MSEStreamCipher {
        MSEStreamCipher(key: hash("keyB", secret, skey), discard: 1024)
    }
}

extension ByteBuffer {
    /// The offset (from the reader index) of the first occurrence of `needle` starting at an offset in
    /// `from...through`, looking only at bytes already readable.
    func firstOffset(of needle: [UInt8], from: Int, through: Int) -> Int? {
        let last = Swift.min(through, readableBytes - needle.count)
        guard from <= last else { return nil }
        return withUnsafeReadableBytes { bytes in
            for offset in from...last {
                var match = true
                for k in 0..<needle.count where bytes[offset + k] != needle[k] {
                    match = false
                    break
                }
                if match { return offset }
            }
            return nil
        }
    }
}
