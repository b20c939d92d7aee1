extension EngineError.Code {
    /// No port of the configured list could be bound.
    public static let bindFailed = EngineError.Code("bindFailed")
    /// The torrent is already added to the client.
    public static let duplicateTorrent = EngineError.Code("duplicateTorrent")
    /// The torrent is not (or no longer) in the client.
    public static let unknownTorrent = EngineError.Code("unknownTorrent")
    /// Reading or writing the torrent's data or resume data failed.
    public static let storageFailed = EngineError.Code("storageFailed")
    /// The client was shut down.
    public static let shutDown = EngineError.Code("shutDown")
}

extension EngineError.Code {
    /// The torrent has no connection to the named peer.
    public static let unknownPeer = EngineError.Code("unknownPeer")
}
