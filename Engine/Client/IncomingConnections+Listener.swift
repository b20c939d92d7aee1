import BTMSE
import NIOCore

extension IncomingConnections {
    /// Binds the client's listener to ``ClientConfiguration/host`` on the first of
    /// ``ClientConfiguration/ports`` that binds. Each accepted channel is filtered and counted
    /// (``acceptChannel(_:)``) before the peer's handshake is read, gets an MSE responder when the client's
    /// or a torrent's encryption policy asks for one, then its peer driver.
    /// - Throws: ``EngineError`` `bindFailed` when no port binds.
    static func listen(core: ClientCore, configuration: ClientConfiguration, loop: any EventLoop)
        async throws(EngineError) -> any PeerListener
    {
        var bound: (any PeerListener)?
        var failures: [String] = []
        for port in configuration.ports {
            do {
                bound = try await configuration.transport.listen(
                    host: configuration.host, port: port, group: loop,
                    initializer: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            // Filtered and counted before the peer's handshake is read.
                            guard let driver = core.incoming.acceptChannel(channel) else {
                                channel.close(promise: nil)
                                return
                            }
                            // MSE first (it passes a plaintext handshake through when the policy allows). Under
                            // a client policy of none it still answers MSE while a torrent's own policy asks for it
                            // (as preferred: the torrent's policy is applied once the handshake names it).
                            let torrentsWantMSE = core.torrents.values.contains {
                                ($0.limits.encryption ?? .none) != .none
                            }
                            let clientPolicy = core.encryption
                            let policy = clientPolicy != .none ? clientPolicy : .preferred
                            if clientPolicy != .none || torrentsWantMSE {
                                try channel.pipeline.syncOperations.addHandler(
                                    MSEChannelHandler.responder(policy: policy, index: { core.skeyIndex }))
                            }
                            try channel.pipeline.syncOperations.addHandler(driver)
                        }
                    })
                break
            } catch {
                failures.append("\(port): \(error)")
            }
        }
        guard let server = bound else {
            throw EngineError(
                .bindFailed,
                "cannot listen on \(configuration.host) port \(configuration.ports): \(failures.joined(separator: "; "))"
            )
        }
        return server
    }
}
