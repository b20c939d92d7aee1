/// What a BEP 11 `ut_pex` message says about an added peer (`added.f`, `added6.f`: one byte per peer).
public struct PEXFlags: OptionSet, Hashable, Sendable {
    /// The flag byte.
    public let rawValue: UInt8
    /// Creates flags from their byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 0x01: the peer prefers encryption (BEP 11; MSE).
    public static let prefersEncryption = PEXFlags(rawValue: 0x01)
    /// 0x02: the peer is a seed, or upload-only.
    public static let seed = PEXFlags(rawValue: 0x02)
    /// 0x04: the peer supports uTP (BEP 29).
    public static let supportsUTP = PEXFlags(rawValue: 0x04)
    /// 0x08: the peer supports the `ut_holepunch` extension (BEP 55).
    public static let supportsHolepunch = PEXFlags(rawValue: 0x08)
    /// 0x10: the sender's connection to the peer was outgoing, so the peer is reachable (connectable).
    public static let reachable = PEXFlags(rawValue: 0x10)
}
