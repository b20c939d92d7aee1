/// A point on the engine's monotonic time line, as an offset from an arbitrary origin.
///
/// Every policy component takes the current instant as an input instead of reading a clock, so tests
/// drive them with a virtual clock and a running engine with `ContinuousClock` (the offset from the
/// instant the session started).
public struct EngineInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Time elapsed since the origin.
    public let sinceOrigin: Duration

    /// The instant `sinceOrigin` after the origin.
    public init(sinceOrigin: Duration) { self.sinceOrigin = sinceOrigin }

    /// The origin itself.
    public static let zero = EngineInstant(sinceOrigin: .zero)

    /// The instant `seconds` after the origin.
    public static func seconds(_ seconds: Int64) -> EngineInstant { EngineInstant(sinceOrigin: .seconds(seconds)) }

    /// The instant `duration` later.
    public static func + (lhs: EngineInstant, rhs: Duration) -> EngineInstant {
        EngineInstant(sinceOrigin: lhs.sinceOrigin + rhs)
    }

    /// The time from `rhs` to `lhs` (negative when `lhs` is earlier).
    public static func - (lhs: EngineInstant, rhs: EngineInstant) -> Duration { lhs.sinceOrigin - rhs.sinceOrigin }

    /// Orders instants by time.
    public static func < (lhs: EngineInstant, rhs: EngineInstant) -> Bool { lhs.sinceOrigin < rhs.sinceOrigin }

    /// The offset, e.g. `12.5 seconds`.
    public var description: String { "\(sinceOrigin)" }

}
