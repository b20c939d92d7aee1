/// The version of the BTWire module (each NetBitTorrent module is versioned on its own).
public enum BTWireVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.11.0"
}
