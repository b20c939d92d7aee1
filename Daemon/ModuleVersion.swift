/// The version of the BTDaemon module (each NetBitTorrent module is versioned on its own).
public enum BTDaemonVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.5.0"
}
