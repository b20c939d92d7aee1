extension Client {
    /// The most connections in total as they hold now: ``ClientConfiguration/maximumConnections`` until
    /// ``setMaximumConnections(_:)`` changes it.
    public func maximumConnections() async -> Int {
        (try? await onLoop { core in core.connections.limiter.configuration.maximumConnections })
            ?? configuration.maximumConnections
    }

    /// Changes the most connections in total (queued, connecting and connected) while the client runs: the
    /// Transmission RPC's `peer-limit-global`. Lowering it closes no connection; new ones are refused until
    /// the count is under it.
    /// - Throws: ``EngineError`` (`invalidConfiguration` for a negative maximum, `shutDown`).
    public func setMaximumConnections(_ maximum: Int) async throws(EngineError) {
        guard maximum >= 0 else { throw EngineError(.invalidConfiguration, "a maximum cannot be negative") }
        try await onLoop { core in core.connections.limiter.setMaximumConnections(maximum) }
        configuration.logger.info("most connections: \(maximum)")
    }
}
