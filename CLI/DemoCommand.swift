import ArgumentParser
import BTEngine
import BTMSE
import BTMetainfo
import Foundation

/// `nbt demo`: an offline swarm of two clients in one process, downloading a generated payload.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Offline demo: seed a generated payload to a second client on 127.0.0.1 and verify it.",
        discussion: """
            Makes a multi-file payload in a temporary folder (a few MiB, including a file smaller than a piece \
            and an empty file), creates a torrent for it, starts a seeding client and a downloading client in \
            this process on 127.0.0.1 (connected by address, no tracker), downloads with the progress line, \
            compares every file byte for byte and prints a summary. Nothing leaves the machine.
            """)

    @Option(help: "Payload size in MiB (1...1024).")
    var size = 8

    @Flag(help: "Keep the temporary folder (its path is printed).")
    var keep = false

    @Option(help: "Message stream encryption (MSE/PE) between the two clients: none, preferred or required.")
    var encryption = "preferred"

    func validate() throws {
        guard (1...1024).contains(size) else { throw TransferDisplay.fail("--size must be between 1 and 1024") }
        guard EncryptionPolicy(rawValue: encryption) != nil else {
            throw TransferDisplay.fail("--encryption takes none, preferred or required, not '\(encryption)'")
        }
    }

    func run() async throws {
        let fileManager = FileManager.default
        let work = (NSTemporaryDirectory() as NSString).appendingPathComponent("nbt-demo-\(UUID().uuidString)")
        let seedFolder = (work as NSString).appendingPathComponent("seed")
        let downloadFolder = (work as NSString).appendingPathComponent("download")
        let payload = (seedFolder as NSString).appendingPathComponent("demo-payload")
        defer { if !keep { try? fileManager.removeItem(atPath: work) } }

        // 1. Payload: files of uneven sizes, one smaller than a piece, one empty.
        let total = size * 1024 * 1024
        let files: [(String, Int)] = [
            ("big.bin", total / 2 + 12_345),
            ("music/track01.bin", total / 4 - 777),
            ("music/track02.bin", total - (total / 2 + 12_345) - (total / 4 - 777) - 1_000),
            ("notes/readme.txt", 1_000),
            ("notes/empty.txt", 0),
        ]
        do {
            var generator = SplitMix64(seed: 0x6e62_7464_656d_6f)
            for (path, length) in files {
                let full = (payload as NSString).appendingPathComponent(path)
                try fileManager.createDirectory(
                    atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                var bytes = [UInt8](repeating: 0, count: length)
                for index in stride(from: 0, to: length, by: 8) {
                    var word = generator.next()
                    for offset in index..<min(index + 8, length) {
                        bytes[offset] = UInt8(truncatingIfNeeded: word)
                        word >>= 8
                    }
                }
                guard fileManager.createFile(atPath: full, contents: Data(bytes)) else {
                    throw TransferDisplay.fail("cannot write \(full)")
                }
            }
            try fileManager.createDirectory(atPath: downloadFolder, withIntermediateDirectories: true)
        } catch let code as ExitCode {
            throw code
        } catch {
            throw TransferDisplay.fail("cannot create the payload in \(work): \(error.localizedDescription)")
        }
        TransferDisplay.say("payload: \(files.count) files, \(TransferDisplay.bytes(Double(total))) in \(payload)")

        // 2. Torrent.
        var creator = TorrentCreator(path: payload)
        creator.version = .v1
        creator.pieceLength = 48 * 1024
        creator.comment = "nbt demo"
        let torrent: Torrent
        do {
            torrent = try creator.create()
        } catch {
            throw TransferDisplay.fail("cannot create the torrent: \(error.reason)")
        }
        TransferDisplay.say(
            "torrent: \(torrent.name), \(torrent.pieceCount) pieces of \(torrent.pieceLength / 1024) KiB, "
                + "info-hash \(torrent.infoHashes)")

        // 3. Two clients on 127.0.0.1.
        var seederConfiguration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        seederConfiguration.reportsPacketEvents = false
        seederConfiguration.encryption = EncryptionPolicy(rawValue: encryption) ?? .preferred
        var leecherConfiguration = seederConfiguration
        leecherConfiguration.sequentialDownload = false
        let seeder: Client
        let leecher: Client
        do {
            seeder = try await Client(configuration: seederConfiguration)
            leecher = try await Client(configuration: leecherConfiguration)
        } catch {
            throw TransferDisplay.fail(error.reason)
        }
        let signals = StopSignal()
        var failure: String?
        var elapsed = Duration.zero
        var finalStatus: TorrentStatus?
        do {
            let seeding = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
            guard let seedStatus = await seeder.status(of: seeding), seedStatus.isComplete else {
                throw TransferDisplay.fail("the seeder's hash check did not pass")
            }
            TransferDisplay.say(
                "seeder:  127.0.0.1:\(seeder.port) (\(seedStatus.verifiedPieces)/\(seedStatus.pieceCount) pieces)")
            let downloading = try await leecher.addTorrent(torrent, downloadDirectory: downloadFolder)
            TransferDisplay.say("leecher: 127.0.0.1:\(leecher.port), connecting to the seeder")
            let start = ContinuousClock.now
            try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
            var lastPlain = ContinuousClock.now
            while true {
                guard let status = await leecher.status(of: downloading) else { break }
                let now = ContinuousClock.now
                let plain = now - lastPlain >= .seconds(2)
                if plain { lastPlain = now }
                TransferDisplay.show(status, plain: plain)
                if status.isComplete {
                    elapsed = now - start
                    finalStatus = status
                    TransferDisplay.show(status, plain: !TransferDisplay.isTerminal && !plain)
                    break
                }
                if status.state == .failed {
                    failure = status.error ?? "storage failed"
                    break
                }
                if signals.isRaised {
                    failure = "interrupted"
                    break
                }
                if now - start > .seconds(300) {
                    failure = "no progress after 5 minutes"
                    break
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
            TransferDisplay.endLine()
        } catch let code as ExitCode {
            await leecher.shutdown()
            await seeder.shutdown()
            throw code
        } catch {
            failure = (error as? EngineError)?.reason ?? "\(error)"
        }
        await leecher.shutdown()
        await seeder.shutdown()
        if let failure { throw TransferDisplay.fail("demo failed: \(failure)") }

        // 4. Verify byte for byte.
        for (path, length) in files {
            let original = (payload as NSString).appendingPathComponent(path)
            let copy = ((downloadFolder as NSString).appendingPathComponent(torrent.name) as NSString)
                .appendingPathComponent(path)
            guard let a = fileManager.contents(atPath: original), let b = fileManager.contents(atPath: copy),
                a.count == length, a == b
            else {
                throw TransferDisplay.fail("demo failed: \(path) differs from the original")
            }
        }
        let seconds = max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, 0.001)
        let downloaded = Double(finalStatus?.downloadedBytes ?? Int64(total))
        TransferDisplay.say(
            "verified: \(files.count) files identical to the originals (\(TransferDisplay.bytes(Double(total))))")
        TransferDisplay.say(
            "done: \(TransferDisplay.bytes(downloaded)) in " + String(format: "%.2f", seconds)
                + " s, \(TransferDisplay.bytes(downloaded / seconds))/s over TCP on 127.0.0.1 (encryption \(encryption))"
        )
        if keep { TransferDisplay.say("kept: \(work)") }
    }
}

/// A small deterministic generator for the demo payload (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
