/// Which BitTorrent metadata formats a torrent carries.
public enum TorrentVersion: String, Hashable, Sendable, CaseIterable {
    /// BEP 3: `pieces` SHA-1 hashes, `files`/`length`.
    case v1
    /// BEP 52: `file tree`, `piece layers`, SHA-256 merkle roots, `meta version` 2.
    case v2
    /// Both, describing the same data (BEP 52 "hybrid"), with pad files aligning v1 files to pieces.
    case hybrid
}
