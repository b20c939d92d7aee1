import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The daemon's HTTP server: the Transmission RPC endpoint at `/transmission/rpc` (checked by an
/// ``RPCGate``, answered by an ``RPCDispatcher``), an optional ``WebFolder`` at `/transmission/web/`, and the
/// optional ``PrometheusMetrics`` at `/metrics`.
/// A thin NIO driver: the decisions are in the gate, the dispatcher and the folder's resolver.
public final class RPCServer: Sendable {
    /// The server's settings.
    public struct Limits: Sendable {
        /// Most connections at once; more are closed when accepted.
        public var maximumConnections = 64
        /// A connection with no request in progress is closed after this long without a byte.
        public var idleTimeout: TimeAmount = .seconds(60)
        /// Most bytes of a request head (line and headers).
        public var maximumHeaderBytes = 16 << 10
        /// Default limits.
        public init() {}
    }

    /// The address it listens on.
    public let host: String
    /// The port it listens on.
    public let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    private init(host: String, port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup) {
        self.host = host
        self.port = port
        self.channel = channel
        self.group = group
    }

    /// Starts listening on `host:port` (0: any free port).
    /// - Throws: ``DaemonError`` with ``DaemonError/Code/bindFailed``.
    public static func start(
        host: String, port: Int, gate: RPCGate, dispatcher: RPCDispatcher, web: WebFolder?,
        metrics: PrometheusMetrics? = nil, limits: Limits = Limits(), logger: Logger = Logger(label: "nbt.daemon.rpc")
    ) async throws(DaemonError) -> RPCServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let counter = ConnectionCounter(maximum: limits.maximumConnections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard counter.enter() else {
                    logger.debug("refused an RPC connection: \(limits.maximumConnections) already open")
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in counter.leave() }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
                    var decoderLimits = NIOHTTPDecoderLimitConfiguration()
                    decoderLimits.maxHeaderFieldSize = limits.maximumHeaderBytes
                    decoderLimits.maxHeaderListSize = limits.maximumHeaderBytes
                    decoderLimits.maxHeaderFieldCount = 100
                    try sync.configureHTTPServerPipeline(
                        withErrorHandling: true, withOutboundHeaderValidation: true, withEncoderConfiguration: .init(),
                        withDecoderLimitConfiguration: decoderLimits)
                    try sync.addHandler(
                        RPCHTTPHandler(gate: gate, dispatcher: dispatcher, web: web, metrics: metrics, logger: logger))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: host, port: port).get()
            let bound = channel.localAddress?.port ?? port
            logger.info("RPC listening on \(host) port \(bound)")
            return RPCServer(host: host, port: bound, channel: channel, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw DaemonError(.bindFailed, "cannot listen on \(host) port \(port): \(error)")
        }
    }

    /// Stops listening and closes the server's threads.
    public func close() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}
