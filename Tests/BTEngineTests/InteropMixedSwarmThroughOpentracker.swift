import BTMetainfo
import BTTracker
import Foundation
import Testing

@testable import BTEngine

#if canImport(Glibc)
    import Glibc
#endif

/// A swarm of three implementations that find each other only through a real tracker: opentracker on
/// 127.0.0.1, a libtorrent seed (python3-libtorrent), our ``Client`` and a Transmission 3.00 leecher
/// (`transmission-cli`), all announcing to the tracker. Nobody is given a peer address. The seed listens on
/// 127.0.0.2, the others on 127.0.0.1 (Transmission takes one connection per address, so the seed and we must
/// dial it from different ones); opentracker reports each peer at the address its announce came from. Both leechers must end with byte-identical files (Transmission 3.00 does not create
/// zero-length files, so its empty file is not compared). Every process is bounded by `timeout` and killed
/// by PID when the test ends. Skipped when a program is missing, unless NBT_REQUIRE_INTEROP=1.
@Suite(.serialized) struct InteropMixedSwarmThroughOpentracker {
    /// A multi-file payload of a few MiB with an odd piece size (80 KiB: five blocks, not a power of two), a
    /// file smaller than a piece and an empty file.
    static let files: [(String, Int)] = [
        ("one.bin", 1_500_003),
        ("sub/two.bin", 2_100_017),
        ("sub/tiny.txt", 777),
        ("sub/empty.dat", 0),
        ("three.bin", 901_234),
    ]

    static let pieceLength = 80 * 1024

    static func toolsAvailable() -> Bool {
        let missing = [
            opentracker == nil ? "opentracker" : nil,
            FileManager.default.isExecutableFile(atPath: "/usr/bin/transmission-cli") ? nil : "transmission-cli",
        ].compactMap { $0 }
        if !missing.isEmpty {
            if InteropLibtorrentTransfers.required { Issue.record("missing: \(missing.joined(separator: ", "))") }
            return false
        }
        return InteropLibtorrentTransfers.libtorrentAvailable()
    }

    static var opentracker: String? {
        ["/usr/bin/opentracker", "/usr/sbin/opentracker", "/usr/local/bin/opentracker"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    @Test func libtorrentSeedsUsAndTransmissionThroughOpentracker() async throws {
        guard Self.toolsAvailable(), let opentracker = Self.opentracker else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("swarm-lt-seed")
        let ourFolder = try ClientFixtures.temporaryFolder("swarm-nbt")
        let transmissionFolder = try ClientFixtures.temporaryFolder("swarm-tr")
        let trackerFolder = try ClientFixtures.temporaryFolder("swarm-ot")
        defer {
            for folder in [seedFolder, ourFolder, transmissionFolder, trackerFolder] {
                try? FileManager.default.removeItem(atPath: folder)
            }
        }

        // The tracker first: the torrent names it.
        let trackerPort = try LoopbackPorts.free()
        let payload = (seedFolder as NSString).appendingPathComponent("payload")
        try ClientFixtures.writePayload(Self.files, in: payload, seed: 7)
        var creator = TorrentCreator(path: payload)
        creator.version = .v1
        creator.pieceLength = Self.pieceLength
        creator.creationDate = nil
        creator.trackers = [["http://127.0.0.1:\(trackerPort)/announce"]]
        let torrent = try creator.create()
        let torrentFile = try InteropLibtorrentTransfers.writeTorrentFile(torrent, in: seedFolder)
        try (torrent.infoHashes.description + "\n").write(
            toFile: "\(trackerFolder)/whitelist", atomically: true, encoding: .utf8)
        try "listen.tcp_udp 127.0.0.1:\(trackerPort)\naccess.whitelist /whitelist\n".write(
            toFile: "\(trackerFolder)/opentracker.conf", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: trackerFolder)
        for name in ["whitelist", "opentracker.conf"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: "\(trackerFolder)/\(name)")
        }
        let tracker = try SwarmProcess(
            [opentracker, "-f", "\(trackerFolder)/opentracker.conf", "-d", trackerFolder], seconds: 110)
        defer { tracker.stop() }
        var trackerUp = false
        for _ in 0..<100 where !trackerUp {
            trackerUp = LoopbackPorts.canConnect(trackerPort)
            if !trackerUp { usleep(50_000) }
        }
        try #require(trackerUp, "opentracker did not start on port \(trackerPort)")

        // Transmission announces first (and gets nobody); libtorrent's `started` announce then returns it, and
        // ours returns both (scrapes confirm each announce before the next peer starts: opentracker's
        // re-announce interval is half an hour). Transmission 3.00 never dials loopback peers, so it is fed by
        // the others' dials.
        let transmissionPort = try LoopbackPorts.free()
        let settings = """
            {"dht-enabled": false, "lpd-enabled": false, "utp-enabled": false, "pex-enabled": false,
             "port-forwarding-enabled": false, "bind-address-ipv4": "127.0.0.1", "peer-port": \(transmissionPort),
             "encryption": 0, "rpc-enabled": false, "rename-partial-files": false,
             "incomplete-dir-enabled": false, "download-dir": "\(transmissionFolder)",
             "speed-limit-down-enabled": false, "speed-limit-up-enabled": false}
            """
        let config = "\(transmissionFolder)/tr-config"
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        try Data(settings.utf8).write(to: URL(fileURLWithPath: "\(config)/settings.json"))
        let transmission = try SwarmProcess(
            [
                "/usr/bin/transmission-cli", "-g", config, "-w", transmissionFolder, "-p", String(transmissionPort),
                "-M", "-et", torrentFile,
            ], seconds: 110)
        defer { transmission.stop() }
        let scraper = TrackerClient(configuration: .init(addressPolicy: .allowAll, httpTimeout: .seconds(5)))
        let trackerURL = "http://127.0.0.1:\(trackerPort)/announce"
        /// Scrapes until `ready` holds for the torrent's counts (bounded), so each peer is known to the tracker
        /// before the next one announces and is told about it.
        func waitForTracker(_ ready: (ScrapeResult) -> Bool) async -> ScrapeResult? {
            var last: ScrapeResult?
            for _ in 0..<100 {
                last = try? await scraper.scrape([torrent.infoHashes.wire], at: trackerURL).first
                if let last, ready(last) { return last }
                try? await Task.sleep(for: .milliseconds(200))
            }
            return last
        }
        let afterTransmission = await waitForTracker { $0.incomplete >= 1 }

        let seed = try SwarmProcess(
            [
                InteropLibtorrentTransfers.python,
                InteropLibtorrentTransfers.fixtures.appendingPathComponent("lt_peer.py").path, "seed", "127.0.0.2",
                torrentFile, seedFolder,
            ], seconds: 110)
        defer { seed.stop() }
        let seedFacts = await seed.firstLine()
        try #require(seedFacts.contains("\"port\""), "libtorrent seed: \(seedFacts)")
        let afterSeed = await waitForTracker { $0.complete >= 1 }
        await scraper.shutdown()
        try #require(
            afterTransmission?.incomplete ?? 0 >= 1,
            "Transmission did not announce: \(String(describing: afterTransmission))")
        try #require(afterSeed?.complete ?? 0 >= 1, "libtorrent did not announce: \(String(describing: afterSeed))")

        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        // The tracker is on loopback: allowed explicitly, whatever the default becomes.
        configuration.trackerAddressPolicy = TrackerAddressPolicy(allowLoopback: true)
        let client = try await Client(configuration: configuration)
        let announces = Counter()
        client.events.on(.trackerSuccess) { _ in announces.add() }
        let connected = Counter()
        client.events.on(.peerConnect) { _ in connected.add() }
        let handle = try await client.addTorrent(torrent, downloadDirectory: ourFolder)

        let start = ContinuousClock.now
        var oursDone = false
        var transmissionDone = false
        while ContinuousClock.now - start < .seconds(90) && !(oursDone && transmissionDone) {
            if !oursDone { oursDone = await client.status(of: handle)?.isComplete == true }
            if !transmissionDone {
                transmissionDone = Self.identical(seedFolder, transmissionFolder, includeEmpty: false)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        let status = await client.status(of: handle)
        await client.shutdown()
        print(
            "mixed swarm: ours \(oursDone), transmission \(transmissionDone) after \(ContinuousClock.now - start); "
                + "\(announces.value) announces answered, \(connected.value) peers connected, uploaded "
                + "\(status?.uploadedBytes ?? 0) bytes")
        #expect(announces.value >= 1, "our client never got an answer from opentracker")
        #expect(connected.value >= 2, "the tracker's answer should have led us to the seed and to Transmission")
        #expect(oursDone, "status: \(String(describing: status))")
        #expect(Self.identical(seedFolder, ourFolder, includeEmpty: true))
        #expect(transmissionDone)
    }

    /// Whether every file of ``files`` (the empty one only when `includeEmpty`) is byte-identical under
    /// `a/payload` and `b/payload`.
    static func identical(_ a: String, _ b: String, includeEmpty: Bool) -> Bool {
        files.filter { includeEmpty || $0.1 > 0 }.allSatisfy { path, length in
            let first = FileManager.default.contents(atPath: "\(a)/payload/\(path)")
            let second = FileManager.default.contents(atPath: "\(b)/payload/\(path)")
            return first != nil && first == second && first?.count == length
        }
    }
}

/// A thread-safe counter for event handlers.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func add() { lock.withLock { count += 1 } }

    var value: Int { lock.withLock { count } }
}

/// A program run by the mixed-swarm test under `timeout -k 5 SECONDS`, killed by PID when the test ends.
///
/// The test runner's threads block signals and a spawned process inherits the mask, which would leave
/// `timeout` deaf to its alarm and to SIGTERM: a Python shim clears the mask before it execs `timeout`.
private final class SwarmProcess: @unchecked Sendable {
    let process = Process()
    let output = Pipe()
    let input = Pipe()

    init(_ arguments: [String], seconds: Int) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments =
            [
                "-c",
                "import os,signal,sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); "
                    + "[signal.signal(s, signal.SIG_DFL) for s in (signal.SIGPIPE, signal.SIGTERM, signal.SIGALRM)]; "
                    + "os.execv('/usr/bin/timeout', ['timeout', '-k', '5'] + sys.argv[1:])",
                String(seconds),
            ] + arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The first line the program prints (empty when it exits first), read on a dispatch thread.
    func firstLine() async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var bytes: [UInt8] = []
                let handle = self.output.fileHandleForReading
                while true {
                    let chunk = handle.readData(ofLength: 1)
                    guard let byte = chunk.first, byte != UInt8(ascii: "\n") else { break }
                    bytes.append(byte)
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
    }

    /// Closes stdin, then SIGTERM (which `timeout` passes on) and finally SIGKILL, by PID; waits for the exit,
    /// then kills the program itself by PID should it have outlived `timeout`.
    func stop() {
        let programs = childPIDs(of: process)
        try? input.fileHandleForWriting.close()
        for signal in [SIGTERM, SIGKILL] where process.isRunning {
            kill(process.processIdentifier, signal)
            for _ in 0..<50 where process.isRunning { usleep(100_000) }
        }
        if !process.isRunning { process.waitUntilExit() }
        for program in programs where kill(program, 0) == 0 { kill(program, SIGKILL) }
    }

    deinit { stop() }
}

/// Loopback port helpers for the mixed-swarm test.
private enum LoopbackPorts {
    /// A port free for both TCP and UDP on 127.0.0.1 right now (opentracker listens on both).
    static func free() throws -> Int {
        for _ in 0..<20 {
            let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(tcp) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(tcp, pointer, length) == 0 && getsockname(tcp, pointer, &length) == 0
                }
            }
            guard bound else { continue }
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(udp) }
            let udpFree = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(udp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if udpFree { return Int(UInt16(bigEndian: address.sin_port)) }
        }
        throw LoopbackPortError()
    }

    /// Whether a TCP connection to 127.0.0.1:`port` succeeds now.
    static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// No free loopback port was found.
private struct LoopbackPortError: Error {}
