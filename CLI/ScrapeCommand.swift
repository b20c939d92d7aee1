import ArgumentParser
import BTBencode
import BTMetainfo
import BTTracker
import Crypto
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
            FileHandle.standardError.write(Data("nbt scrape: \(error)\n".utf8))
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
            try await withThrowingTaskGroup(of: (Int, Row).self) { group in
                for (index, url) in trackers.enumerated() {
                    group.addTask { (index, await Self.ask(client, url: url, infoHash: infoHash)) }
                }
                var rows = [Row?](repeating: nil, count: trackers.count)
                for try await (index, row) in group { rows[index] = row }
                return rows.compactMap { $0 }
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        } else {
            for row in rows {
                if let error = row.error {
                    print("\(row.tracker): error: \(error)")
                } else {
                    let completed = row.completed.map(String.init) ?? "?"
                    print(
                        "\(row.tracker): \(row.seeders ?? 0) seeders, \(row.leechers ?? 0) leechers, \(completed) completed (\(row.method))"
                    )
                }
            }
        }
    }

    static func ask(_ client: TrackerClient, url: String, infoHash: [UInt8]) async -> Row {
        do {
            let results = try await client.scrape([infoHash], at: url)
            guard let result = results.first(where: { $0.infoHash == infoHash }) else {
                return Row(tracker: url, method: "scrape", error: "the tracker does not know this torrent")
            }
            return Row(
                tracker: url, method: "scrape", seeders: result.complete, leechers: result.incomplete,
                completed: result.downloaded)
        } catch let error where error.code == .scrapeUnsupported {
            return await announceInstead(client, url: url, infoHash: infoHash)
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

/// The info-hash and trackers of a .torrent file or magnet link.
///
/// Reads only what scraping needs (the info dictionary's bytes for the hash, `announce` and `announce-list`,
/// magnet `xt` and `tr`); full validation belongs to BTMetainfo's parser.
struct ScrapeTarget {
    var infoHash: [UInt8]
    var trackers: [String]

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func load(_ source: String) throws -> ScrapeTarget {
        source.lowercased().hasPrefix("magnet:") ? try ScrapeTarget(magnet: source) : try ScrapeTarget(file: source)
    }

    init(file source: String) throws {
        guard let data = FileManager.default.contents(atPath: source) else {
            throw Failure("cannot read \(source)")
        }
        guard data.count <= 64 << 20 else { throw Failure("\(source) is larger than 64 MiB") }
        let document: BencodeDocument
        do {
            document = try BencodeDocument(Array(data), options: .lenient)
        } catch {
            throw Failure("\(source) is not a torrent: \(error)")
        }
        guard let info = document.root["info"], info.kind == .dictionary else {
            throw Failure("\(source) is not a torrent: no info dictionary")
        }
        let raw = info.rawBytes
        // v1 (and hybrid): SHA-1 of the info dictionary; pure v2 (meta version 2, no pieces): SHA-256 truncated.
        if info["meta version"]?.integer == 2 && info["pieces"] == nil {
            infoHash = Array(SHA256.hash(data: raw).prefix(20))
        } else {
            infoHash = Array(Insecure.SHA1.hash(data: raw))
        }
        var urls: [String] = []
        for tier in document.root["announce-list"]?.list.array ?? [] {
            for url in tier.list { if let text = url.string { urls.append(text) } }
        }
        if urls.isEmpty, let announce = document.root["announce"]?.string { urls.append(announce) }
        trackers = Self.unique(urls)
    }

    init(magnet: String) throws {
        guard let query = magnet.split(separator: "?", maxSplits: 1).dropFirst().first else {
            throw Failure("magnet link without parameters")
        }
        var hash: [UInt8]?
        var urls: [String] = []
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].lowercased()
            let value = String(parts[1]).removingPercentEncoding ?? String(parts[1])
            if key == "tr" || key.hasPrefix("tr.") {
                urls.append(value)
            } else if key == "xt" || key.hasPrefix("xt.") {
                let lower = value.lowercased()
                if lower.hasPrefix("urn:btih:") {
                    let text = value.dropFirst("urn:btih:".count)
                    hash = hash ?? (text.count == 40 ? NetBitTorrentHex.decode(text) : Self.base32(text))
                } else if lower.hasPrefix("urn:btmh:1220"), let v2 = NetBitTorrentHex.decode(value.dropFirst(13)),
                    v2.count == 32
                {
                    hash = hash ?? Array(v2.prefix(20))
                }
            }
        }
        guard let hash, hash.count == 20 else { throw Failure("magnet link without a valid xt=urn:btih or urn:btmh") }
        infoHash = hash
        trackers = Self.unique(urls)
    }

    private static func unique(_ urls: [String]) -> [String] {
        var seen: Set<String> = []
        return urls.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    private static func base32(_ text: Substring) -> [UInt8]? {
        guard text.count == 32 else { return nil }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits: UInt64 = 0
        var count = 0
        var out: [UInt8] = []
        for character in text.uppercased() {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            bits = bits << 5 | UInt64(value)
            count += 5
            if count >= 8 {
                out.append(UInt8(truncatingIfNeeded: bits >> UInt64(count - 8)))
                count -= 8
            }
        }
        return out.count == 20 ? out : nil
    }
}
