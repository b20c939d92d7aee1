import ArgumentParser
import BTMetainfo
import BTTracker
import Foundation
import NIOCore

/// `nbt scrape FILE.torrent|MAGNET [--json]`: seeders, leechers and completed counts from every tracker.
struct ScrapeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrape",
        abstract: "Ask every tracker of a torrent for its seeders, leechers and completed counts.",
        discussion: """
            Uses the tracker's scrape where it has one (UDP trackers, and HTTP trackers whose announce URL ends \
            in /announce*), else an announce with numwant=0 followed by stopped. Prints one line per tracker, \
            with the tracker's error where it failed.
            """)

    @Argument(help: "A .torrent file or a magnet link.")
    var source: String

    @Flag(help: "Print a JSON array instead of text.")
    var json = false

    @Option(help: "Seconds to wait for each tracker.")
    var timeout: Int = 15

    @Flag(help: "Also contact trackers on private and link-local networks (refused by default).")
    var allowLocal = false

    /// One tracker's answer.
    struct Row: Codable, Sendable {
        var tracker: String
        var method: String
        var seeders: Int?
        var leechers: Int?
        var completed: Int?
        var error: String?
    }

    func run() async throws {
        let target: ScrapeTarget
        do {
            target = try ScrapeTarget.load(source)
        } catch {
            FileHandle.standardError.write(Data("nbt scrape: \(String(describing: error).terminalSafe)\n".utf8))
            throw ExitCode(2)
        }
        guard timeout > 0 && timeout <= 3600 else {
            FileHandle.standardError.write(Data("nbt scrape: --timeout must be 1...3600 seconds\n".utf8))
            throw ExitCode(2)
        }
        let trackers = target.trackers
        guard !trackers.isEmpty else {
            FileHandle.standardError.write(Data("nbt scrape: the torrent lists no trackers\n".utf8))
            throw ExitCode(2)
        }
        // Two UDP attempts (timeout/3, then 2·timeout/3) fit in the per-tracker budget.
        let third = TimeAmount.milliseconds(Int64(timeout) * 1000 / 3)
        let configuration = TrackerClient.Configuration(
            addressPolicy: allowLocal ? .allowAll : .default, httpTimeout: .seconds(Int64(timeout)),
            udpRetransmission: UDPRetransmissionPolicy(baseTimeout: third, maxExponent: 1, maxAttempts: 2))
        let infoHash = target.infoHash
        let rows = try await TrackerClient.withClient(configuration: configuration) { client in
            // Scrapes first, all at once; then the announce fallbacks, so that their short-lived presence in
            // a swarm does not show up in another tracker's scrape of the same swarm.
            var rows = try await Self.concurrently(trackers) { await Self.scrape(client, url: $0, infoHash: infoHash) }
            let fallback = trackers.indices.filter { rows[$0] == nil }
            let announced = try await Self.concurrently(fallback.map { trackers[$0] }) {
                await Self.announceInstead(client, url: $0, infoHash: infoHash)
            }
            for (index, row) in zip(fallback, announced) { rows[index] = row }
            return rows.compactMap { $0 }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        } else {
            for row in rows {
                if let error = row.error {
                    print("\(row.tracker): error: \(error)".terminalSafe)
                } else {
                    let completed = row.completed.map(String.init) ?? "?"
                    print(
                        "\(row.tracker): \(row.seeders ?? 0) seeders, \(row.leechers ?? 0) leechers, \(completed) completed (\(row.method))"
                            .terminalSafe)
                }
            }
        }
    }

    /// Runs `body` for every element concurrently; results in input order.
    static func concurrently<Output: Sendable>(
        _ inputs: [String], _ body: @escaping @Sendable (String) async -> Output
    ) async throws -> [Output] {
        try await withThrowingTaskGroup(of: (Int, Output).self) { group in
            for (index, input) in inputs.enumerated() { group.addTask { (index, await body(input)) } }
            var outputs = [Output?](repeating: nil, count: inputs.count)
            for try await (index, output) in group { outputs[index] = output }
            return outputs.map { $0! }
        }
    }

    /// The scrape row, or nil when the tracker has no scrape (then an announce is tried).
    static func scrape(_ client: TrackerClient, url: String, infoHash: [UInt8]) async -> Row? {
        do {
            let results = try await client.scrape([infoHash], at: url)
            guard let result = results.first(where: { $0.infoHash == infoHash }) else {
                return Row(tracker: url, method: "scrape", error: "the tracker does not know this torrent")
            }
            return Row(
                tracker: url, method: "scrape", seeders: result.complete, leechers: result.incomplete,
                completed: result.downloaded)
        } catch let error where error.code == .scrapeUnsupported {
            return nil
        } catch {
            return Row(tracker: url, method: "scrape", error: error.reason)
        }
    }

    /// No scrape convention: announce with numwant=0, then stopped so we do not linger in the swarm.
    static func announceInstead(_ client: TrackerClient, url: String, infoHash: [UInt8]) async -> Row {
        var random = SystemRandomNumberGenerator()
        let peerID = Array("-NB0010-".utf8) + (0..<12).map { _ in UInt8.random(in: 0x30...0x7a, using: &random) }
        var request = AnnounceRequest(
            infoHash: infoHash, peerID: peerID, port: 6881, left: 1, event: .started, numWant: 0,
            key: UInt32.random(in: 0...UInt32.max, using: &random))
        do {
            let response = try await client.announce(request, to: url)
            request.event = .stopped
            request.trackerID = response.trackerID
            _ = try? await client.announce(request, to: url)
            return Row(
                tracker: url, method: "announce", seeders: response.complete, leechers: response.incomplete,
                completed: response.downloaded)
        } catch {
            return Row(tracker: url, method: "announce", error: error.reason)
        }
    }
}

/// The info-hash and trackers of a .torrent file (BTMetainfo's `Torrent(bytes:)`) or magnet link (`MagnetLink`).
struct ScrapeTarget {
    var infoHash: [UInt8]
    var trackers: [String]

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func load(_ source: String) throws -> ScrapeTarget {
        if source.lowercased().hasPrefix("magnet:") {
            do {
                let magnet = try MagnetLink(parsing: source)
                return ScrapeTarget(infoHash: magnet.infoHashes.wire, trackers: unique(magnet.trackers))
            } catch {
                throw Failure("not a valid magnet link: \(error)")
            }
        }
        let data: [UInt8]
        do {
            data = try TorrentFileReader.read(source)
        } catch {
            throw Failure(error.reason)
        }
        do {
            let torrent = try Torrent(bytes: data)
            return ScrapeTarget(
                infoHash: torrent.infoHashes.wire, trackers: unique(torrent.announceTiers.flatMap { $0 }))
        } catch {
            throw Failure("\(source) is not a valid torrent: \(error)")
        }
    }

    private static func unique(_ urls: [String]) -> [String] {
        var seen: Set<String> = []
        return urls.filter { !$0.isEmpty && seen.insert($0).inserted }
    }
}
