import NIOCore

/// Per-peer budgets on incoming messages that carry no data but cost us work (and on the bytes of hash and
/// extension messages): a peer past one is
/// disconnected with a reason (``DisconnectReason/protocolViolation`` for availability and extension
/// floods, ``DisconnectReason/requestFlood`` for cancels), the detail naming the budget.
///
/// Counted per window of ``interval`` (a fresh window starts when one has passed), except ut_pex, which
/// mirrors libtorrent (`too_frequent_pex`: a fourth `ut_pex` message within 60 s ends the connection).
/// Honest clients stay far below each: a `have` per piece they complete, keep-alives every two minutes,
/// cancels only in endgame (at most what they requested), one availability message (a few at most).
public struct PeerInputLimits: Hashable, Sendable {
    /// The window the per-interval budgets count over.
    public var interval: TimeAmount
    /// `have` messages for pieces the peer had already announced, per window.
    public var maximumRedundantHaves: Int
    /// `cancel` messages per window (each one we had queued costs a BEP 6 `reject`, and the read it
    /// cancelled). Generous: for a peer that does not read, the output bound ends a request+cancel flood
    /// first; this bounds the CPU and disk reads of a peer that reads its rejects and floods on.
    public var maximumCancels: Int
    /// Keep-alives per window (BEP 3 asks for one every two minutes).
    public var maximumKeepAlives: Int
    /// Availability messages (bitfield, have all, have none) per window. BEP 3 sends one, first; libtorrent
    /// accepts a later one (it replaces what the peer had), and aria2 sends a bitfield after `have`s, so a
    /// few are tolerated, but each costs a pass over every piece.
    public var maximumAvailabilityMessages: Int
    /// Extension messages other than `ut_pex` (ut_metadata, unknown ids) per window.
    public var maximumExtensionMessages: Int
    /// `ut_pex` messages per ``pexInterval`` (libtorrent: 3 per 60 s).
    public var maximumPEXMessages: Int
    /// The window of ``maximumPEXMessages``.
    public var pexInterval: TimeAmount
    /// BEP 52 hash messages (`hash request`, `hashes`, `hash reject`) per window. An honest peer fetching
    /// piece layers keeps a few requests outstanding (libtorrent asks 512 hashes a request) and we serve at
    /// most 50 a second; a block-layer question follows a failed piece.
    public var maximumHashMessages: Int
    /// Bytes of BEP 52 hash messages per window (a `hashes` message carries up to 8,192 hashes, 256 KiB).
    public var maximumHashBytes: Int
    /// Bytes of extension messages (ut_metadata, ut_pex, the extension handshake, unknown ones) per window:
    /// a 16 MiB info dictionary (the ``MetadataFetch`` limit) fits in two windows from one peer.
    public var maximumExtensionBytes: Int
    /// Messages of unknown ids per window (ignored, as libtorrent does, but each is framed and read).
    public var maximumUnknownMessages: Int

    /// The defaults documented on each property: a 10 s window, 64 redundant haves, 10,000 cancels,
    /// 32 keep-alives, 8 availability messages, 500 other extension messages, 3 `ut_pex` per 60 s, 1,000 hash
    /// messages and 32 MiB of them, 16 MiB of extension messages, 100 messages of unknown ids.
    public init() {
        self.interval = .seconds(10)
        self.maximumRedundantHaves = 64
        self.maximumCancels = 10_000
        self.maximumKeepAlives = 32
        self.maximumAvailabilityMessages = 8
        self.maximumExtensionMessages = 500
        self.maximumPEXMessages = 3
        self.pexInterval = .seconds(60)
        self.maximumHashMessages = 1000
        self.maximumHashBytes = 32 << 20
        self.maximumExtensionBytes = 16 << 20
        self.maximumUnknownMessages = 100
    }
}

extension PeerStateMachine {
    /// The counts ``PeerInputLimits`` bound, for one active connection.
    struct InputBudget: Sendable {
        /// What is counted.
        enum Kind: Sendable {
            case redundantHave, cancel, keepAlive, availability, extensionMessage, pex
            case hashMessage, hashBytes, extensionBytes, unknownMessage
        }

        /// One budget's count in its current window.
        private struct Window: Sendable {
            var start: NIODeadline?
            var count = 0
        }

        private var redundantHaves = Window()
        private var cancels = Window()
        private var keepAlives = Window()
        private var availabilityMessages = Window()
        private var extensionMessages = Window()
        private var pexMessages = Window()
        private var hashMessages = Window()
        private var hashBytes = Window()
        private var extensionBytes = Window()
        private var unknownMessages = Window()

        /// Counts `amount` (one message, or its bytes for the byte budgets) of `kind` at `now`; throws once the
        /// window's budget is passed.
        mutating func count(_ kind: Kind, _ amount: Int = 1, now: NIODeadline, limits: PeerInputLimits) throws(Closing)
        {
            let (maximum, interval, reason, name) = Self.budget(of: kind, limits)
            var window: Window
            switch kind {
            case .redundantHave: window = redundantHaves
            case .cancel: window = cancels
            case .keepAlive: window = keepAlives
            case .availability: window = availabilityMessages
            case .extensionMessage: window = extensionMessages
            case .pex: window = pexMessages
            case .hashMessage: window = hashMessages
            case .hashBytes: window = hashBytes
            case .extensionBytes: window = extensionBytes
            case .unknownMessage: window = unknownMessages
            }
            if let start = window.start, now - start < interval {
                window.count += amount
            } else {
                window = Window(start: now, count: amount)
            }
            switch kind {
            case .redundantHave: redundantHaves = window
            case .cancel: cancels = window
            case .keepAlive: keepAlives = window
            case .availability: availabilityMessages = window
            case .extensionMessage: extensionMessages = window
            case .pex: pexMessages = window
            case .hashMessage: hashMessages = window
            case .hashBytes: hashBytes = window
            case .extensionBytes: extensionBytes = window
            case .unknownMessage: unknownMessages = window
            }
            guard window.count > maximum else { return }
            throw Closing(reason, "more than \(maximum) \(name) within \(interval.nanoseconds / 1_000_000_000) s")
        }

        private static func budget(of kind: Kind, _ limits: PeerInputLimits)
            -> (Int, TimeAmount, DisconnectReason, String)
        {
            switch kind {
            case .redundantHave:
                (limits.maximumRedundantHaves, limits.interval, .protocolViolation, "redundant have messages")
            case .cancel: (limits.maximumCancels, limits.interval, .requestFlood, "cancel messages")
            case .keepAlive: (limits.maximumKeepAlives, limits.interval, .protocolViolation, "keep-alives")
            case .availability:
                (
                    limits.maximumAvailabilityMessages, limits.interval, .protocolViolation,
                    "availability messages (bitfield, have all, have none)"
                )
            case .extensionMessage:
                (limits.maximumExtensionMessages, limits.interval, .protocolViolation, "extension messages")
            case .pex: (limits.maximumPEXMessages, limits.pexInterval, .protocolViolation, "ut_pex messages")
            case .hashMessage:
                (limits.maximumHashMessages, limits.interval, .protocolViolation, "hash messages (BEP 52)")
            case .hashBytes:
                (limits.maximumHashBytes, limits.interval, .protocolViolation, "bytes of hash messages (BEP 52)")
            case .extensionBytes:
                (limits.maximumExtensionBytes, limits.interval, .protocolViolation, "bytes of extension messages")
            case .unknownMessage:
                (limits.maximumUnknownMessages, limits.interval, .protocolViolation, "messages of unknown ids")
            }
        }
    }
}
