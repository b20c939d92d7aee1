import NIOCore

/// When the driver spaces out its reads from a peer that trickles a message: sends it a little at a time, so
/// that one message stays incomplete read after read while each read brings only a few bytes.
///
/// Why: a read costs a wake-up, a system call and a pass through the pipeline whatever it carries. A peer
/// writing a 1 MiB message 64 bytes at a time made us do about 9,000 reads of a kilobyte or so for 8 MiB (the
/// kernel merges some of the segments), about 8 times the CPU of the same bytes in full-size writes (issue
/// 12's attack benchmark). Reads are spaced (the next one asked for only ``spacing`` later; the kernel gathers
/// what comes meanwhile) in two cases:
/// - one message has been arriving for ``slowMessageAge`` and a read brings less than ``smallReadBytes``;
/// - every read for ``slowMessageAge`` has left a message incomplete (a run of messages, each completed only
///   by a read that also brings the start of the next) and the reads made at once averaged less than
///   ``tinyReadBytes``:
///   a peer trickling 64 KiB messages completes one every few milliseconds and is still trickling.
/// A trickled stream then costs about two reads per ``spacing``, however its bytes are cut into messages.
///
/// An honest peer is not slowed. A fast one completes its messages (16 KiB blocks) well within
/// ``slowMessageAge``, and its reads are large. A slow one (under about 300 KB/s, where a block takes longer
/// than that) gets its reads spaced, which costs it nothing but up to ``spacing`` of latency per message: its
/// bytes wait in the socket's receive buffer, which holds far more than it sends in ``spacing``.
public struct TrickledReads: Hashable, Sendable {
    /// A read of fewer bytes counts as small (default 16 KiB: one block).
    public var smallReadBytes: Int
    /// An average read of fewer bytes over a run of incomplete messages counts as trickling (default 512: well
    /// under a TCP segment on any common path, where an honest stream's reads are a segment or more; a peer
    /// writing 512 bytes at a time costs us about an eighth of what 64-byte writes cost).
    public var tinyReadBytes: Int
    /// How long messages may keep arriving incomplete, read after read, before small reads are spaced
    /// (default 50 ms).
    public var slowMessageAge: TimeAmount
    /// Time between reads while they are spaced (default 20 ms).
    public var spacing: TimeAmount

    /// The defaults documented on each property.
    public init(
        smallReadBytes: Int = 16 * 1024, slowMessageAge: TimeAmount = .milliseconds(50),
        spacing: TimeAmount = .milliseconds(20), tinyReadBytes: Int = 512
    ) {
        self.smallReadBytes = smallReadBytes
        self.tinyReadBytes = tinyReadBytes
        self.slowMessageAge = slowMessageAge
        self.spacing = spacing
    }
}

/// The driver's view of one peer's reads (see ``TrickledReads``): reads in, whether to space the next one.
struct TrickleDetector {
    let policy: TrickledReads
    /// When the message that is still incomplete began to arrive (nil: no message is incomplete).
    private(set) var messageSince: NIODeadline?
    /// Bytes left undecoded after the previous read.
    private var undecodedBefore = 0
    /// Since when every read has left a message incomplete (nil: the last read ended on a message boundary),
    /// and the reads made at once (not spaced) in that run and their bytes.
    private(set) var runSince: NIODeadline?
    private var runReads = 0
    private var runBytes = 0
    /// Whether the next read waits ``TrickledReads/spacing``.
    private(set) var spacesReads = false

    init(policy: TrickledReads) {
        self.policy = policy
    }

    /// Counts a read of `bytes` at `now`, after which `undecoded` bytes wait for the rest of their message.
    mutating func observe(read bytes: Int, undecoded: Int, now: NIODeadline) {
        defer { undecodedBefore = undecoded }
        let wasSpaced = spacesReads
        guard undecoded > 0 else {
            messageSince = nil
            runSince = nil
            spacesReads = false
            return
        }
        // All of the read went into the waiting message: it is the same one. Otherwise a message completed in
        // this read and the bytes left over start a new one (the run goes on).
        if messageSince == nil || undecoded != undecodedBefore + bytes { messageSince = now }
        if runSince == nil {
            runSince = now
            runReads = 0
            runBytes = 0
        }
        // Only reads made at once count toward the run's average: a spaced read gathers what the kernel held,
        // so it is large however the peer writes, and must not end the spacing it caused.
        if !wasSpaced {
            runReads += 1
            runBytes += bytes
        }
        let slowMessage = bytes < policy.smallReadBytes && now - messageSince! >= policy.slowMessageAge
        let tinyRun =
            runReads > 0 && now - runSince! >= policy.slowMessageAge && runBytes < runReads * policy.tinyReadBytes
        spacesReads = slowMessage || tinyRun
    }
}
