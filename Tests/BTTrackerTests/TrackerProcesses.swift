import BTTracker
import Foundation
import NIOCore
import NIOPosix

/// A background process started by a test: bounded by `timeout`, killed by PID when the test ends.
final class TestProcess: @unchecked Sendable {
    let process = Process()
    let output = Pipe()

    /// Starts `arguments` under `timeout SECONDS`.
    ///
    /// The test runner's threads block signals and a spawned process inherits that mask, which would leave
    /// `timeout` deaf to its own alarm and to SIGTERM: a tiny Python shim clears the mask before exec.
    init(_ arguments: [String], seconds: Int = 120, directory: URL? = nil) throws {
        let shim = "/usr/bin/python3"
        if FileManager.default.isExecutableFile(atPath: shim) {
            process.executableURL = URL(fileURLWithPath: shim)
            process.arguments =
                [
                    "-c",
                    "import os,signal,sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); "
                        + "[signal.signal(s, signal.SIG_DFL) for s in (signal.SIGPIPE, signal.SIGTERM, signal.SIGALRM)]; "
                        + "os.execv('/usr/bin/timeout', ['timeout'] + sys.argv[1:])",
                    "\(seconds)",
                ] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            process.arguments = ["\(seconds)"] + arguments
        }
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The first line the process prints (blocking, bounded by the process's own timeout).
    func firstLine() -> String {
        var bytes: [UInt8] = []
        let handle = output.fileHandleForReading
        while true {
            let chunk = handle.readData(ofLength: 1)
            guard let byte = chunk.first else { break }
            if byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Kills the process (SIGTERM to `timeout`, which passes it on) and waits for it.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        // Bounded wait; SIGKILL if SIGTERM was not enough.
        for _ in 0..<100 where process.isRunning { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// The Python fake tracker of `Fixtures/fake_tracker.py`.
struct FakeTracker {
    let process: TestProcess
    let httpPort: Int
    let udpPort: Int
    /// The UDP port on ::1, or 0 when the machine has no IPv6 loopback.
    let udp6Port: Int

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fake_tracker.py").path

    /// Starts a fake with the given UDP behaviour; with `tls` its HTTP port speaks HTTPS with that certificate.
    static func start(udpMode: String = "ok", tls: TestCertificate? = nil) throws -> FakeTracker {
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        let process = try TestProcess(
            [python, script, udpMode] + (tls.map { [$0.certificate, $0.key] } ?? []), seconds: 120)
        let ports = process.firstLine().split(separator: " ").compactMap { Int($0) }
        guard ports.count == 3 else {
            process.stop()
            throw TrackerTestError("fake tracker did not start")
        }
        return FakeTracker(process: process, httpPort: ports[0], udpPort: ports[1], udp6Port: ports[2])
    }

    func http(_ path: String) -> String { "http://127.0.0.1:\(httpPort)\(path)" }
    /// The URL of `path` over TLS at `host` (the fake must have been started with a certificate).
    func https(_ path: String, host: String = "127.0.0.1") -> String { "https://\(host):\(httpPort)\(path)" }
    var udp: String { "udp://127.0.0.1:\(udpPort)/announce" }
}

struct TrackerTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A real opentracker on loopback, in a fresh chroot folder with a whitelist.
struct Opentracker {
    let process: TestProcess
    let port: Int
    let directory: URL

    /// Whether interop tests must fail (rather than skip) when opentracker is missing.
    static var required: Bool { ProcessInfo.processInfo.environment["NBT_REQUIRE_INTEROP"] == "1" }

    static var executable: String? {
        ["/usr/bin/opentracker", "/usr/sbin/opentracker", "/usr/local/bin/opentracker"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// Starts opentracker whitelisting `infoHashes` (hex). Returns nil when it is not installed.
    static func start(whitelisting infoHashes: [String]) throws -> Opentracker? {
        guard let executable else { return nil }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-ot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = try freePort()
        // It chroots into the folder (and drops to nobody when root), so paths in the config are chroot-relative.
        try (infoHashes.joined(separator: "\n") + "\n").write(
            to: directory.appendingPathComponent("whitelist"), atomically: true, encoding: .utf8)
        try "listen.tcp_udp 127.0.0.1:\(port)\naccess.whitelist /whitelist\n".write(
            to: directory.appendingPathComponent("opentracker.conf"), atomically: true, encoding: .utf8)
        for name in ["", "whitelist", "opentracker.conf"] {
            try FileManager.default.setAttributes(
                [.posixPermissions: name.isEmpty ? 0o755 : 0o644],
                ofItemAtPath: directory.appendingPathComponent(name).path)
        }
        let process = try TestProcess(
            [executable, "-f", directory.appendingPathComponent("opentracker.conf").path, "-d", directory.path],
            seconds: 120)
        // Wait (bounded) until it accepts connections.
        for _ in 0..<100 {
            if canConnect(port: port) { return Opentracker(process: process, port: port, directory: directory) }
            usleep(50_000)
        }
        process.stop()
        throw TrackerTestError("opentracker did not start on port \(port)")
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A port free for both TCP and UDP on 127.0.0.1 right now.
    static func freePort() throws -> Int {
        for _ in 0..<20 {
            let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(tcp) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
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
        throw TrackerTestError("no free port")
    }

    static func canConnect(port: Int) -> Bool {
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

/// Runs `body` with a client and returns its result and every event it raised.
func withEvents<R: Sendable>(
    _ configuration: TrackerClientConfiguration = .init(), _ body: (TrackerClient) async throws -> R
) async throws -> (R, [TrackerEvent]) {
    let client = TrackerClient(configuration: configuration)
    let result: R
    do {
        result = try await body(client)
    } catch {
        await client.shutdown()
        throw error
    }
    await client.shutdown()
    var events: [TrackerEvent] = []
    for await event in client.events { events.append(event) }
    return (result, events)
}

typealias TrackerClientConfiguration = TrackerClient.Configuration
