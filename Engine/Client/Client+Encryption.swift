import BTMSE

extension Client {
    /// The client's encryption policy as it holds now: ``ClientConfiguration/encryption`` until
    /// ``setEncryption(_:)`` changes it.
    public func encryption() async -> EncryptionPolicy {
        (try? await onLoop { core in core.encryption }) ?? configuration.encryption
    }

    /// Changes the client's encryption policy while it runs (the Transmission RPC's `encryption`): it holds for
    /// connections made or accepted from now on (and for torrents without a policy of their own); connections
    /// already made keep what they settled on.
    /// - Throws: ``EngineError`` (`shutDown`).
    public func setEncryption(_ policy: EncryptionPolicy) async throws(EngineError) {
        try await onLoop { core in core.encryption = policy }
        configuration.logger.info("encryption: \(policy)")
    }
}
