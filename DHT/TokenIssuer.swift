import Crypto
import NIOCore

/// `get_peers` tokens (BEP 5): a hash of the requester's IP, the info-hash and a secret that changes every
/// 5 minutes; tokens made with the previous secret are still accepted, so a token lives 5 to 10 minutes.
public struct TokenIssuer: Sendable {
    /// How often the secret changes (BEP 5: "every five minutes").
    public static let rotationInterval = TimeAmount.minutes(5)
    /// Length of the tokens issued.
    public static let tokenLength = 8

    var current: [UInt8]
    var previous: [UInt8]
    var rotatedAt: NIODeadline

    /// Creates an issuer with fresh secrets.
    public init(now: NIODeadline, using generator: inout some RandomNumberGenerator) {
        current = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        previous = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        rotatedAt = now
    }

    /// Changes the secret if ``rotationInterval`` has passed.
    public mutating func rotateIfDue(now: NIODeadline, using generator: inout some RandomNumberGenerator) {
        guard now - rotatedAt >= Self.rotationInterval else { return }
        previous = current
        current = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        rotatedAt = now
    }

    /// When the secret changes next.
    public var nextRotation: NIODeadline { rotatedAt + Self.rotationInterval }

    static func token(secret: [UInt8], ip: DHTEndpoint.IP, infoHash: NodeID) -> [UInt8] {
        var input = secret
        input += ip.bytes
        infoHash.append(to: &input)
        return Array(Insecure.SHA1.hash(data: input).prefix(tokenLength))
    }

    /// The token for `ip` announcing `infoHash`.
    public func token(for ip: DHTEndpoint.IP, infoHash: NodeID) -> [UInt8] {
        Self.token(secret: current, ip: ip, infoHash: infoHash)
    }

    /// True if `token` was issued to `ip` for `infoHash` with the current or the previous secret.
    public func isValid(_ token: [UInt8], for ip: DHTEndpoint.IP, infoHash: NodeID) -> Bool {
        token == Self.token(secret: current, ip: ip, infoHash: infoHash)
            || token == Self.token(secret: previous, ip: ip, infoHash: infoHash)
    }
}
