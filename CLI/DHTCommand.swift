import ArgumentParser
import BTBencode
import BTDHT
import BTEngine
import BTMetainfo
import Crypto
import Foundation
import NIOCore
import NIOPosix

/// `nbt dht SUBCOMMAND`: the Mainline DHT (BEP 5) from the command line, with one short-lived node:
/// `get-peers`, `announce`, `put`/`get` (BEP 44), `sample` (BEP 51) and `scrape` (BEP 33).
struct DHTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht",
        abstract: "Ask the BitTorrent DHT: peers of an info-hash, announces, BEP 44 items, BEP 51 samples.",
        discussion: """
            Each subcommand starts a DHT node on a UDP socket (--bind, --port), joins the network through \
            the --bootstrap nodes (used as routers: asked to join, never kept), does its one job and exits \
            within --timeout seconds. Nothing is contacted unless named: give --bootstrap, a --state file \
            saved by an earlier run, or --public-routers for the well-known public routers.
            """,
        subcommands: [GetPeers.self, Announce.self, Put.self, Get.self, Sample.self, Scrape.self])

    /// The options every subcommand shares.
    struct Options: ParsableArguments {
        @Option(help: "A node to join through (HOST:PORT, [v6]:PORT); repeatable.")
        var bootstrap: [String] = []

        @Flag(help: "Also join through the well-known public routers (a real network, never a test).")
        var publicRouters = false

        @Option(help: "Local address of the node's UDP socket.")
        var bind = "0.0.0.0"

        @Option(help: "Local UDP port of the node (0 = any); `announce` announces it as the TCP port too.")
        var port = 0

        @Option(help: "Load the node's id and nodes from this file if it exists, and save them there at the end.")
        var state: String?

        @Option(help: "Give up after this many seconds.")
        var timeout = 30

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func validate() throws {
            guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be 1...3600 seconds") }
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
            for text in bootstrap { _ = try Self.hostAndPort(text) }
            if bootstrap.isEmpty && !publicRouters && state == nil {
                throw ValidationError("give --bootstrap HOST:PORT, a --state file, or --public-routers")
            }
        }

        /// The host and port of `HOST:PORT` (`[v6]:PORT` for IPv6).
        static func hostAndPort(_ text: String) throws -> (host: String, port: Int) {
            guard case .success(let parsed) = HostAndPort.parse(text) else {
                throw ValidationError("--bootstrap takes HOST:PORT or [IPv6]:PORT, not '\(text)'")
            }
            return (parsed.host, parsed.port)
        }

        /// Resolves the bootstrap names to endpoints of the socket's address family.
        func routerEndpoints(ipv6: Bool) -> [DHTEndpoint] {
            var endpoints: [DHTEndpoint] = []
            for text in bootstrap + (publicRouters ? DHTSettings.publicRouters : []) {
                guard let (host, port) = try? Self.hostAndPort(text),
                    let address = try? SocketAddress.makeAddressResolvingHost(host, port: port),
                    let endpoint = DHTEndpoint(address), endpoint.ip.isV6 == ipv6
                else {
                    FileHandle.standardError.write(Data("nbt dht: cannot use \(text.terminalSafe)\n".utf8))
                    continue
                }
                endpoints.append(endpoint)
            }
            return endpoints
        }

        /// Starts a node, joins, runs `body`, saves the state; bounded by `--timeout` (the channel is closed
        /// when it expires, which fails the lookup under way).
        func withNode<Result: Sendable>(
            _ body: @escaping @Sendable (DHTService) async throws -> Result
        ) async throws -> Result {
            var saved: DHTState?
            if let state, FileManager.default.fileExists(atPath: state) {
                do {
                    saved = try DHTState(decoding: [UInt8](try Data(contentsOf: URL(fileURLWithPath: state))))
                } catch {
                    throw DHTCommand.fail("cannot load \(state): \(error)")
                }
            }
            let channel: any Channel
            do {
                channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .bind(host: bind, port: port).get()
            } catch {
                throw DHTCommand.fail("cannot bind UDP \(bind):\(port): \(error)")
            }
            let ipv6 = channel.localAddress?.protocol == .inet6
            let service = try await DHTService.start(
                on: channel, configuration: DHTConfiguration(ipv6: ipv6), state: saved)
            let seconds = timeout
            let watchdog = Task {
                try await Task.sleep(for: .seconds(seconds))
                FileHandle.standardError.write(Data("nbt dht: timed out after \(seconds) s\n".utf8))
                try? await service.close()
            }
            defer { watchdog.cancel() }
            let result: Result
            do {
                let joined = try await service.bootstrap(routers: routerEndpoints(ipv6: ipv6))
                if joined.responses == 0 {
                    FileHandle.standardError.write(Data("nbt dht: no node answered the bootstrap\n".utf8))
                }
                result = try await body(service)
            } catch let error as DHTError where error.code == .channelClosed {
                throw ExitCode(3)
            }
            if let state {
                let bytes = try await service.state().encoded()
                do {
                    try Data(bytes).write(to: URL(fileURLWithPath: state), options: .atomic)
                } catch {
                    FileHandle.standardError.write(Data("nbt dht: cannot save \(state): \(error)\n".utf8))
                }
            }
            try? await service.close()
            return result
        }

        /// Prints `value` as sorted, pretty JSON.
        func printJSON(_ value: some Encodable) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(value), as: UTF8.self))
        }
    }

    /// What a lookup did, for `--json`.
    struct LookupSummary: Codable, Sendable {
        var queries: Int
        var responses: Int
        var timeouts: Int
        var milliseconds: Int64
        var timedOut: Bool

        init(_ result: DHTLookupResult) {
            queries = result.queriesSent
            responses = result.responses
            timeouts = result.timeouts
            milliseconds = result.duration.nanoseconds / 1_000_000
            timedOut = result.timedOut
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    /// Writes `nbt dht: message` to standard error; the exit code to throw (1).
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("nbt dht: \(message.terminalSafe)\n".utf8))
        return ExitCode.failure
    }

    /// The bytes of an even number of hex digits; nil if any is not one.
    static func unhex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<(index + 2)], as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        return bytes
    }

    static func nodeID(_ text: String, _ what: String) throws -> NodeID {
        guard let id = NodeID(hex: text) else { throw ValidationError("\(what) must be 40 hex digits, not '\(text)'") }
        return id
    }

    /// `nbt dht get-peers INFOHASH`.
    struct GetPeers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get-peers", abstract: "List the peers the DHT knows for an info-hash.")

        @Argument(help: "The info-hash (40 hex digits).")
        var infoHash: String

        @OptionGroup var options: Options

        struct Output: Codable, Sendable {
            var infoHash: String
            var peers: [String]
            var lookup: LookupSummary
        }

        func validate() throws { _ = try DHTCommand.nodeID(infoHash, "INFOHASH") }

        func run() async throws {
            let target = try DHTCommand.nodeID(infoHash, "INFOHASH")
            let result = try await options.withNode { try await $0.getPeers(target) }
            let output = Output(
                infoHash: infoHash.lowercased(), peers: result.peers.map(\.description), lookup: LookupSummary(result))
            if options.json { return try options.printJSON(output) }
            for peer in output.peers { print(peer) }
            FileHandle.standardError.write(
                Data(
                    "\(output.peers.count) peers, \(result.responses) of \(result.queriesSent) nodes answered\n".utf8))
        }
    }

    /// `nbt dht announce INFOHASH --port P`.
    struct Announce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "announce",
            abstract: "Announce that this host takes peers for an info-hash on --port (TCP), and list the peers.",
            discussion: "With --port 0 the node's UDP port is announced (implied_port).")

        @Argument(help: "The info-hash (40 hex digits).")
        var infoHash: String

        @Flag(help: "Announce as a seed (BEP 33).")
        var seed = false

        @OptionGroup var options: Options

        struct Output: Codable, Sendable {
            var infoHash: String
            var port: Int?
            var announcedTo: Int
            var peers: [String]
            var lookup: LookupSummary
        }

        func validate() throws { _ = try DHTCommand.nodeID(infoHash, "INFOHASH") }

        func run() async throws {
            let target = try DHTCommand.nodeID(infoHash, "INFOHASH")
            let port = options.port == 0 ? nil : UInt16(options.port)
            let seed = self.seed
            let result = try await options.withNode { try await $0.announce(target, port: port, seed: seed) }
            let output = Output(
                infoHash: infoHash.lowercased(), port: port.map(Int.init), announcedTo: result.announcedTo,
                peers: result.peers.map(\.description), lookup: LookupSummary(result))
            if options.json { return try options.printJSON(output) }
            print("announced to \(result.announcedTo) nodes")
            for peer in output.peers { print(peer) }
            if result.announcedTo == 0 { throw ExitCode(1) }
        }
    }

    /// `nbt dht put VALUE [--key FILE [--salt S] [--seq N]]`.
    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "put",
            abstract: "Store a string in the DHT (BEP 44): immutable, or mutable with --key.",
            discussion: """
                An immutable item is stored under the SHA-1 of its bencoded value. With --key FILE (an ed25519 \
                private key: 32 raw bytes or 64 hex digits; created if missing) the item is mutable, stored \
                under the SHA-1 of the public key and --salt, with sequence number --seq (default: one more \
                than the item found).
                """)

        @Argument(help: "The value, stored as a bencoded string.")
        var value: String

        @Option(help: "The ed25519 private key file of a mutable item.")
        var key: String?

        @Option(help: "Salt of a mutable item.")
        var salt: String = ""

        @Option(help: "Sequence number of a mutable item.")
        var seq: Int64?

        @OptionGroup var options: Options

        struct Output: Codable, Sendable {
            var target: String
            var storedAt: Int
            var sequence: Int64?
            var publicKey: String?
            var lookup: LookupSummary
        }

        func validate() throws {
            guard value.utf8.count <= DHTItem.maximumValueSize - 8 else { throw ValidationError("value too long") }
            guard salt.utf8.count <= DHTItem.maximumSaltSize else { throw ValidationError("--salt above 64 bytes") }
            if key == nil && (seq != nil || !salt.isEmpty) { throw ValidationError("--seq and --salt need --key") }
        }

        func run() async throws {
            let value = BencodeValue.string(self.value)
            let salt = Array(self.salt.utf8)
            // The key's bytes cross into the node's task (swift-crypto's key type is not Sendable).
            let keyBytes = try key.map { Array(try DHTCommand.loadKey($0).rawRepresentation) }
            let sequence = seq
            let (item, result) = try await options.withNode { service -> (DHTItem, DHTLookupResult) in
                let item: DHTItem
                if let keyBytes {
                    let signingKey = try Curve25519.Signing.PrivateKey(rawRepresentation: keyBytes)
                    var next = sequence
                    if next == nil {
                        let target = DHTItem.target(
                            publicKey: Array(signingKey.publicKey.rawRepresentation), salt: salt)
                        let current = try await service.get(target, salt: salt)
                        next = (current.item?.signed?.sequence ?? 0) + 1
                    }
                    item = try DHTItem.mutable(value, sequence: next!, salt: salt, signingKey: signingKey)
                } else {
                    item = try DHTItem.immutable(value)
                }
                return (item, try await service.put(item))
            }
            let output = Output(
                target: DHTCommand.hex(item.target.bytes), storedAt: result.announcedTo,
                sequence: item.signed?.sequence, publicKey: item.signed.map { DHTCommand.hex($0.publicKey) },
                lookup: LookupSummary(result))
            if options.json { try options.printJSON(output) } else { print(output.target) }
            if result.announcedTo == 0 {
                FileHandle.standardError.write(Data("nbt dht: no node stored the item\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    /// Reads an ed25519 private key (32 raw bytes or 64 hex digits), creating one if the file is missing.
    static func loadKey(_ path: String) throws -> Curve25519.Signing.PrivateKey {
        if !FileManager.default.fileExists(atPath: path) {
            let key = Curve25519.Signing.PrivateKey()
            guard
                FileManager.default.createFile(
                    atPath: path, contents: Data(hex(Array(key.rawRepresentation)).utf8),
                    attributes: [.posixPermissions: 0o600])
            else { throw DHTCommand.fail("cannot create \(path)") }
            FileHandle.standardError.write(Data("nbt dht: created key \(path.terminalSafe)\n".utf8))
            return key
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var bytes = [UInt8](data)
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.count == 64, let decoded = unhex(text) { bytes = decoded }
        guard bytes.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes) else {
            throw DHTCommand.fail("\(path) is not an ed25519 key (32 bytes or 64 hex digits)")
        }
        return key
    }

    /// `nbt dht get TARGET [--salt S]`.
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get", abstract: "Fetch a BEP 44 item from the DHT by its target.")

        @Argument(help: "The target (40 hex digits), as `put` printed it.")
        var target: String

        @Option(help: "Salt of a mutable item (needed to check it).")
        var salt: String = ""

        @OptionGroup var options: Options

        struct Output: Codable, Sendable {
            var target: String
            var found: Bool
            var value: String?
            var bencodedHex: String?
            var sequence: Int64?
            var publicKey: String?
            var lookup: LookupSummary
        }

        func validate() throws { _ = try DHTCommand.nodeID(target, "TARGET") }

        func run() async throws {
            let id = try DHTCommand.nodeID(target, "TARGET")
            let salt = Array(self.salt.utf8)
            let result = try await options.withNode { try await $0.get(id, salt: salt) }
            let item = result.item
            var text: String?
            if let item, let decoded = try? BencodeValue(decoding: item.value), case .bytes(let bytes) = decoded {
                text = String(decoding: bytes, as: UTF8.self)
            }
            let output = Output(
                target: target.lowercased(), found: item != nil, value: text,
                bencodedHex: item.map { DHTCommand.hex($0.value) }, sequence: item?.signed?.sequence,
                publicKey: item?.signed.map { DHTCommand.hex($0.publicKey) }, lookup: LookupSummary(result))
            if options.json {
                try options.printJSON(output)
            } else if let item {
                print(text?.terminalSafe ?? String(decoding: item.value, as: UTF8.self).terminalSafe)
            }
            if item == nil {
                FileHandle.standardError.write(Data("nbt dht: not found\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    /// `nbt dht sample [TARGET]`.
    struct Sample: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sample",
            abstract: "List info-hashes stored by the nodes near a target (BEP 51 sample_infohashes).")

        @Argument(help: "Where to sample (40 hex digits); random if left out.")
        var target: String?

        @OptionGroup var options: Options

        struct Output: Codable, Sendable {
            var target: String
            var infoHashes: [String]
            var lookup: LookupSummary
        }

        func validate() throws { if let target { _ = try DHTCommand.nodeID(target, "TARGET") } }

        func run() async throws {
            var generator = SystemRandomNumberGenerator()
            let id = try target.map { try DHTCommand.nodeID($0, "TARGET") } ?? NodeID.random(using: &generator)
            let result = try await options.withNode { try await $0.sample(id) }
            let output = Output(
                target: DHTCommand.hex(id.bytes), infoHashes: result.samples.map { DHTCommand.hex($0.bytes) },
                lookup: LookupSummary(result))
            if options.json { return try options.printJSON(output) }
            for hash in output.infoHashes { print(hash) }
        }
    }

    /// `nbt dht scrape INFOHASH`.
    struct Scrape: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scrape", abstract: "Estimate the seeds and downloaders of an info-hash (BEP 33).")

        @Argument(help: "The info-hash (40 hex digits).")
        var infoHash: String

        @OptionGroup var options: Options

        struct Output: Codable, Sendable {
            var infoHash: String
            var seeds: Int
            var downloaders: Int
            var answers: Int
            var lookup: LookupSummary
        }

        func validate() throws { _ = try DHTCommand.nodeID(infoHash, "INFOHASH") }

        func run() async throws {
            let id = try DHTCommand.nodeID(infoHash, "INFOHASH")
            let result = try await options.withNode { try await $0.scrape(id) }
            let scrape = result.scrape ?? DHTScrape()
            let output = Output(
                infoHash: infoHash.lowercased(), seeds: scrape.estimatedSeeds, downloaders: scrape.estimatedDownloaders,
                answers: scrape.answers, lookup: LookupSummary(result))
            if options.json { return try options.printJSON(output) }
            print("seeds \(output.seeds), downloaders \(output.downloaders) (\(output.answers) nodes answered)")
        }
    }
}
