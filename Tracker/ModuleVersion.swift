/// The version of the BTTracker module (each NetBitTorrent module is versioned on its own).
public enum BTTrackerVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.7.0"
}
