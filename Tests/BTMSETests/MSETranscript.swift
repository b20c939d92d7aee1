import Foundation
import NIOCore

@testable import BTMSE

/// One side's view of a recorded MSE handshake with a real peer: our fixed random choices, everything we
/// sent and everything we received (concatenated), and what we sent after the handshake (in plaintext,
/// before our outgoing cipher). Stored as `key hex` lines in `Fixtures/`.
struct MSETranscript: Equatable {
    var role: String
    var infoHash: [UInt8]
    var privateKey: [UInt8]
    var clearPad: [UInt8]
    var encryptedPad: [UInt8]
    var initialPayload: [UInt8]
    var afterHandshake: [UInt8]
    var sent: [UInt8]
    var received: [UInt8]

    var randomness: MSEHandshakeRandomness {
        MSEHandshakeRandomness(privateKey: privateKey, clearPad: clearPad, encryptedPad: encryptedPad)
    }

    func text(comment: String) -> String {
        let fields: [(String, [UInt8])] = [
            ("info_hash", infoHash), ("private_key", privateKey), ("clear_pad", clearPad),
            ("encrypted_pad", encryptedPad), ("initial_payload", initialPayload),
            ("after_handshake", afterHandshake), ("sent", sent), ("received", received),
        ]
        return "# \(comment)\nrole \(role)\n"
            + fields.map { "\($0.0) \(MSETestSupport.hex($0.1))" }.joined(separator: "\n") + "\n"
    }

    init(
        role: String, infoHash: [UInt8], randomness: MSEHandshakeRandomness, initialPayload: [UInt8],
        afterHandshake: [UInt8], sent: [UInt8], received: [UInt8]
    ) {
        self.role = role
        self.infoHash = infoHash
        self.privateKey = randomness.privateKey
        self.clearPad = randomness.clearPad
        self.encryptedPad = randomness.encryptedPad
        self.initialPayload = initialPayload
        self.afterHandshake = afterHandshake
        self.sent = sent
        self.received = received
    }

    init(fixture name: String) throws {
        var fields: [String: String] = [:]
        for record in try MSETestSupport.records(name) { fields[record[0]] = record.count > 1 ? record[1] : "" }
        func bytes(_ key: String) -> [UInt8] { MSETestSupport.bytes(hex: fields[key] ?? "") }
        role = fields["role"] ?? ""
        infoHash = bytes("info_hash")
        privateKey = bytes("private_key")
        clearPad = bytes("clear_pad")
        encryptedPad = bytes("encrypted_pad")
        initialPayload = bytes("initial_payload")
        afterHandshake = bytes("after_handshake")
        sent = bytes("sent")
        received = bytes("received")
    }
}

/// Splits a decrypted BitTorrent stream into its 68-byte handshake and the ids of its complete messages.
func bitTorrentStream(_ bytes: [UInt8]) -> (handshake: [UInt8], messageIDs: [UInt8])? {
    guard bytes.count >= 68 else { return nil }
    var ids: [UInt8] = []
    var position = 68
    while position + 4 <= bytes.count {
        let length = bytes[position..<(position + 4)].reduce(0) { $0 << 8 | Int($1) }
        guard position + 4 + length <= bytes.count else { break }
        if length > 0 { ids.append(bytes[position + 4]) }
        position += 4 + length
    }
    return (Array(bytes[0..<68]), ids)
}
