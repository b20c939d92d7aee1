import NIOCore

/// When the driver spaces out its reads from a peer that trickles a message: sends it a few bytes per
/// segment, so that every read the kernel hands us is tiny and the message is still incomplete after it.
///
/// Why: a read costs a system call and a pass through the pipeline whatever it carries. A peer writing a
/// 1 MiB message 64 bytes at a time made us do 16,384 reads for it, about 7.5 times the CPU of the same
/// bytes in full-size writes (issue 12's attack benchmark). Spaced reads let the kernel gather the segments:
/// after ``smallReadsBeforeSpacing`` small reads in a row that each left a message incomplete, the next read
/// is asked for only ``spacing`` later, and so on until a read ends on a message boundary (nothing left
/// undecoded). An honest peer is not slowed: its reads are full segments (a loopback or LAN peer's are tens
/// of kilobytes, a slow link's at least one packet of about 1,400 bytes), and a message that completes
/// resets the count; what a spaced peer sends meanwhile waits in the socket's receive buffer.
public struct TrickledReads: Hashable, Sendable {
    /// A read of fewer bytes counts as small (default 1,024: less than one full TCP segment).
    public var smallReadBytes: Int
    /// Small reads in a row, each leaving a message incomplete, before reads are spaced (default 4).
    public var smallReadsBeforeSpacing: Int
    /// Time between reads while they are spaced (default 50 ms).
    public var spacing: TimeAmount

    /// The defaults documented on each property.
    public init(smallReadBytes: Int = 1024, smallReadsBeforeSpacing: Int = 4, spacing: TimeAmount = .milliseconds(50)) {
        self.smallReadBytes = smallReadBytes
        self.smallReadsBeforeSpacing = smallReadsBeforeSpacing
        self.spacing = spacing
    }
}

/// The driver's count of small reads from one peer (see ``TrickledReads``): reads in, whether to space the
/// next read out.
struct TrickleDetector {
    let policy: TrickledReads
    /// Small reads in a row that each left a message incomplete (kept while spaced, whatever the read size:
    /// a spaced read gathers many small segments and is large because of the spacing).
    private(set) var smallReads = 0

    init(policy: TrickledReads) {
        self.policy = policy
    }

    /// Whether reads are being spaced out.
    var spacesReads: Bool { smallReads >= policy.smallReadsBeforeSpacing }

    /// Counts a read of `bytes` after which `undecoded` bytes wait for the rest of their message.
    mutating func observe(read bytes: Int, undecoded: Int) {
        if undecoded == 0 {
            smallReads = 0
        } else if bytes < policy.smallReadBytes {
            smallReads = min(smallReads + 1, policy.smallReadsBeforeSpacing)
        } else if !spacesReads {
            smallReads = 0
        }
    }
}
