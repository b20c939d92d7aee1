import ArgumentParser
import BTEngine
import BTMSE
import BTMetainfo
import Foundation
import Logging

/// Network options shared by `nbt download` and `nbt seed` (`--bind`/`--port` are the seed's
/// LocalHost/LocalPort).
struct NetworkOptions: ParsableArguments {
    @Option(help: "Local address to listen on.")
    var bind = "0.0.0.0"

    @Option(help: "Port to listen on (0 = any), or a range A-B tried in order.")
    var port = "0"

    @Option(name: .customLong("peer"), help: "Connect to this peer (HOST:PORT); repeatable.")
    var peers: [String] = []

    @Option(help: "Most peers per torrent.")
    var maxPeers: Int?

    @Option(help: "Download limit in bytes per second (K, M suffixes: 500K, 2M).")
    var downLimit: String?

    @Option(help: "Upload limit in bytes per second (K, M suffixes: 500K, 2M).")
    var upLimit: String?

    @Option(help: "Write the engine's log to stderr from this level: trace, debug, info, notice, warning, error.")
    var logLevel: String?

    @Flag(help: "Also announce to trackers on private and link-local networks (refused by default).")
    var allowLocalTrackers = false

    @Flag(name: .customLong("no-dht"), help: "Do not use the DHT (BEP 5) to find peers.")
    var noDHT = false

    @Flag(
        name: .customLong("no-lsd"),
        help: ArgumentHelp(
            "Do not use local service discovery (BEP 14) to find peers on the local network.",
            discussion: "Also off when NBT_NO_PUBLIC_DHT or NBT_NO_LSD is set, as in the test scripts."))
    var noLSD = false

    @Option(
        name: .customLong("dht-bootstrap"),
        help: "Join the DHT through this node (HOST:PORT) instead of the public routers; repeatable.")
    var dhtBootstrap: [String] = []

    @Option(name: .customLong("dht-state"), help: "Keep the DHT's routing table in this file between runs.")
    var dhtState: String?

    @Option(
        help: ArgumentHelp(
            "How peers are reached: tcp, utp (uTP, BEP 29) or both (uTP first, TCP when uTP does not answer).",
            discussion: "Both listen on TCP and UDP on the --port number."))
    var transport = "tcp"

    @Option(
        help: ArgumentHelp(
            "Message stream encryption (MSE/PE): none, preferred or required.",
            discussion:
                "preferred dials with MSE (RC4 or plaintext) and redials a peer that refuses it in plaintext, and accepts both; required is RC4 only, both ways; none is plaintext only."
        ))
    var encryption = "preferred"

    func validate() throws {
        _ = try ports()
        for peer in peers { _ = try Self.endpoint(peer) }
        if let maxPeers, maxPeers < 1 { throw TransferDisplay.fail("--max-peers must be at least 1") }
        if let downLimit { _ = try Self.rate(downLimit, option: "--down-limit") }
        if let upLimit { _ = try Self.rate(upLimit, option: "--up-limit") }
        if let logLevel { _ = try Self.level(logLevel) }
        for node in dhtBootstrap {
            guard (try? Self.endpoint(node)) != nil else {
                throw TransferDisplay.fail("--dht-bootstrap takes HOST:PORT, not '\(node)'")
            }
        }
        guard EncryptionPolicy(rawValue: encryption) != nil else {
            throw TransferDisplay.fail("--encryption takes none, preferred or required, not '\(encryption)'")
        }
        guard FallbackTransport.Policy(rawValue: transport) != nil else {
            throw TransferDisplay.fail("--transport takes tcp, utp or both, not '\(transport)'")
        }
        if noDHT && (!dhtBootstrap.isEmpty || dhtState != nil) {
            throw TransferDisplay.fail("--no-dht cannot be combined with --dht-bootstrap or --dht-state")
        }
    }

    /// The environment variable that keeps the DHT off the public network: when it is set (to anything but
    /// empty or 0), the DHT runs only with explicit `--dht-bootstrap` nodes and never contacts the public
    /// routers. The test scripts set it, so no test can reach beyond the machine.
    static let noPublicDHTVariable = "NBT_NO_PUBLIC_DHT"

    /// The DHT settings these options describe: the public routers unless `--dht-bootstrap` names nodes
    /// (or ``noPublicDHTVariable`` forbids them); nil with `--no-dht`.
    func dhtSettings(environment: [String: String] = ProcessInfo.processInfo.environment) -> DHTSettings? {
        guard !noDHT else { return nil }
        if dhtBootstrap.isEmpty {
            let forbidden = environment[Self.noPublicDHTVariable].map { !$0.isEmpty && $0 != "0" } ?? false
            if forbidden { return nil }
            return DHTSettings(routers: DHTSettings.publicRouters, statePath: dhtState)
        }
        return DHTSettings(bootstrapNodes: dhtBootstrap, statePath: dhtState)
    }

    /// The environment variable that turns local service discovery off (as ``noPublicDHTVariable`` does too):
    /// no multicast leaves a test that does not make a network namespace for it.
    static let noLSDVariable = "NBT_NO_LSD"

    /// Local service discovery (BEP 14), on by default as in libtorrent, on the `--bind` address's interface;
    /// nil with `--no-lsd` or when ``noLSDVariable`` or ``noPublicDHTVariable`` is set.
    func localDiscoverySettings(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> LocalDiscoverySettings?
    {
        guard !noLSD else { return nil }
        for variable in [Self.noLSDVariable, Self.noPublicDHTVariable] {
            if let value = environment[variable], !value.isEmpty, value != "0" { return nil }
        }
        return LocalDiscoverySettings(interfaceAddress: bind == "0.0.0.0" || bind == "::" ? nil : bind)
    }

    /// The swift-log level named by `--log-level`.
    static func level(_ text: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw TransferDisplay.fail(
                "--log-level takes trace, debug, info, notice, warning, error or critical, not '\(text)'")
        }
        return level
    }

    /// The ports `--port` names, in the order they are tried.
    func ports() throws -> [Int] {
        let parts = port.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count <= 2, let low = Int(parts[0]), let high = Int(parts.last!), low >= 0, high <= 65535,
            low <= high
        else { throw TransferDisplay.fail("--port takes N or A-B with ports 0...65535, not '\(port)'") }
        return Array(low...high)
    }

    /// The engine configuration these options describe.
    func configuration() throws -> ClientConfiguration {
        var configuration = ClientConfiguration(host: bind, ports: try ports())
        if let maxPeers { configuration.maximumPeersPerTorrent = maxPeers }
        if let downLimit {
            configuration.downloadLimit = .bytesPerSecond(try Self.rate(downLimit, option: "--down-limit"))
        }
        if let upLimit { configuration.uploadLimit = .bytesPerSecond(try Self.rate(upLimit, option: "--up-limit")) }
        if let logLevel {
            var logger = Logger(label: "nbt.engine", factory: { label in StreamLogHandler.standardError(label: label) })
            logger.logLevel = try Self.level(logLevel)
            configuration.logger = logger
        }
        if allowLocalTrackers { configuration.trackerAddressPolicy = .allowAll }
        configuration.dht = dhtSettings()
        configuration.localDiscovery = localDiscoverySettings()
        configuration.encryption = EncryptionPolicy(rawValue: encryption) ?? .preferred
        switch FallbackTransport.Policy(rawValue: transport) ?? .tcp {
        case .tcp: configuration.transport = TCPTransport()
        case .utp: configuration.transport = UTPTransport()
        case .both: configuration.transport = FallbackTransport(policy: .both)
        }
        configuration.reportsPacketEvents = false
        return configuration
    }

    /// The host and port of a `--peer HOST:PORT` (`[v6]:PORT` for IPv6).
    static func endpoint(_ text: String) throws -> (host: String, port: Int) {
        guard case .success(let parsed) = HostAndPort.parse(text) else {
            throw TransferDisplay.fail("--peer takes HOST:PORT or [IPv6]:PORT, not '\(text)'")
        }
        return (parsed.host, parsed.port)
    }

    /// Bytes per second of a rate like `500K` or `2M` (binary suffixes K, M, G).
    static func rate(_ text: String, option: String) throws -> Int {
        var digits = text.uppercased()
        var scale = 1.0
        if digits.hasSuffix("K") || digits.hasSuffix("M") || digits.hasSuffix("G") {
            scale = digits.hasSuffix("K") ? 1024 : digits.hasSuffix("M") ? 1024 * 1024 : 1024 * 1024 * 1024
            digits.removeLast()
        }
        guard let value = Double(digits), value > 0, (value * scale) < 1e15 else {
            throw TransferDisplay.fail("\(option) takes a positive rate in bytes per second (500K, 2M), not '\(text)'")
        }
        return max(1, Int(value * scale))
    }
}
