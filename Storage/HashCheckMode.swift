/// How a hash check of existing data (``PieceStore/checkExistingData(mode:progress:)``) reads a
/// ``FileStorage``.
public enum HashCheckMode: Hashable, Sendable {
    /// Positioned reads (`pread`, page cache first) into a buffer that is hashed while it is in L2: the
    /// default. Nothing is mapped, so the check's memory stays a few buffers, whatever the torrent's size.
    case read
    /// The files are memory-mapped read-only, a run of pieces (at most 8 MiB) per worker at a time, and
    /// hashed straight from the page cache's pages, without the copy `pread` makes (about a tenth of the CPU
    /// time on a warm cache). The mapped pages count in the process's resident size while a run is mapped.
    /// A file truncated by another program during the check makes the affected pieces unverified instead of
    /// crashing the process (a `SIGBUS` handler, see the module README). Linux only: elsewhere, and for
    /// storage backends other than ``FileStorage``, it reads like ``read``.
    case mapped
}
