import ArgumentParser
import BTSimulator
import Foundation
import NIOCore

/// `nbt simulate`: runs a swarm of real clients on BTSimulator's virtual network and clock, and prints what
/// happened (per-peer completion times, bytes, duplicates, hash failures, blacklistings) as a summary or JSON.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a swarm of real clients on a virtual network and clock (deterministic from --seed).",
        discussion: """
            Every peer is the real engine; bytes cost virtual time on each peer's access link. Runs repeat \
            exactly from --seed when the process starts with SWIFT_DETERMINISTIC_HASHING=1.
            """)

    @Option(help: "Leechers (free-riders and liars included).") var peers: Int = 50
    @Option(help: "Seeds (they have the whole torrent from the start).") var seeds: Int = 1
    @Option(help: "Payload size in KiB.") var size: Int = 4_096
    @Option(help: "Piece length in KiB.") var pieceLength: Int = 256
    @Option(help: "Seed of the run (content, ids, choices, loss).") var seed: UInt64 = 1
    @Option(help: "Upload of every peer, KiB/s.") var upload: Int = 1_024
    @Option(help: "Download of every peer, KiB/s (0: unlimited).") var download: Int = 4_096
    @Option(help: "Upload of the seeds, KiB/s (default: --upload).") var seedUpload: Int?
    @Option(help: "One-way latency of every peer, ms.") var latency: Int = 20
    @Option(help: "Probability that a write is lost once (0...1).") var loss: Double = 0
    @Option(help: "Leechers that never upload.") var freeRiders: Int = 0
    @Option(help: "Leechers that send wrong data.") var liars: Int = 0
    @Option(help: "Leechers that join late, one every --join-interval seconds after the start.") var lateJoiners: Int =
        0
    @Option(help: "Seconds between late joiners.") var joinInterval: Int = 10
    @Option(help: "Virtual seconds after which the run stops.") var deadline: Int = 3_600
    @Flag(help: "Print the whole result as JSON.") var json = false

    func validate() throws {
        guard peers > 0, seeds > 0, size > 0, pieceLength > 0, pieceLength % 16 == 0, upload > 0, download >= 0,
            latency >= 0, (0...1).contains(loss), freeRiders >= 0, liars >= 0, freeRiders + liars <= peers,
            lateJoiners >= 0, lateJoiners <= peers, joinInterval > 0, deadline > 0, (seedUpload ?? 1) > 0
        else { throw ValidationError("counts and rates must be positive, --piece-length a multiple of 16 KiB") }
    }

    func run() async throws {
        let profile = NodeProfile(
            uploadBytesPerSecond: upload * 1024, downloadBytesPerSecond: download == 0 ? nil : download * 1024,
            latency: .milliseconds(Int64(latency)), loss: loss)
        var configuration = SwarmConfiguration.swarm(
            seeds: seeds, leechers: peers, freeRiders: freeRiders, liars: liars, profile: profile,
            seedUpload: seedUpload.map { $0 * 1024 }, contentSize: size * 1024, pieceLength: pieceLength * 1024,
            seed: seed)
        configuration.deadline = .seconds(Int64(deadline))
        // The last leechers join late, one every interval.
        for (offset, index) in configuration.peers.indices.suffix(lateJoiners).enumerated() {
            configuration.peers[index].joinsAt = .seconds(Int64((offset + 1) * joinInterval))
        }
        let result = try await Swarm(configuration).run()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(Self.summary(result))
        }
    }

    /// The plain summary: the swarm's figures, then one line per kind of peer.
    static func summary(_ result: SwarmResult) -> String {
        func format(_ value: Double) -> String { String(format: "%.1f", value) }
        var lines: [String] = []
        let leechers = result.peers.filter { $0.role == .leecher }
        let done = leechers.compactMap(\.completedAt)
        lines.append(
            "swarm: \(result.peers.count) peers, \(result.contentSize) bytes, seed \(result.seed); "
                + "\(done.count)/\(leechers.count) leechers completed in \(format(result.virtualSeconds)) virtual s "
                + "(ideal \(format(result.idealSeconds)) s\(result.completionOverIdeal.map { ", \(format($0))x" } ?? "")), "
                + "\(format(result.wallSeconds)) real s")
        lines.append(
            "availability: rarest piece \(String(format: "%.2f", result.availability.rarestOverMean)) of the mean "
                + "copies among leechers, some piece only at seeds in "
                + "\(String(format: "%.0f", 100 * result.availability.withoutLeecherCopy)) % of "
                + "\(result.availability.samples) steps")
        for behaviour in PeerBehaviour.allCases {
            let group = leechers.filter { $0.behaviour == behaviour }
            guard !group.isEmpty else { continue }
            let times = group.compactMap(\.completedAt).sorted()
            let median = times.isEmpty ? "-" : format(times[times.count / 2])
            let down = group.reduce(Int64(0)) { $0 + $1.downloadedBytes } / Int64(group.count)
            let up = group.reduce(Int64(0)) { $0 + $1.uploadedBytes } / Int64(group.count)
            lines.append(
                "\(behaviour.rawValue): \(group.count) peers, \(times.count) completed, median \(median) s, "
                    + "mean down \(down) B, mean up \(up) B, duplicates \(group.reduce(0) { $0 + $1.duplicateBytes }) B, "
                    + "hash failures \(group.reduce(0) { $0 + $1.hashFailures }), "
                    + "blacklisted by \(group.reduce(0) { $0 + $1.blacklistedBy }) peers in all, "
                    + "correct copies \(group.filter(\.holdsCorrectCopy).count)")
        }
        return lines.joined(separator: "\n")
    }
}
