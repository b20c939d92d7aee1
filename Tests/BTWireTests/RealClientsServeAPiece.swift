import BTMetainfo
import Crypto
import Foundation
import NIOCore
import Testing

@testable import BTWire

#if canImport(Glibc)
    import Glibc
#endif

/// Interop: a real libtorrent (python3-libtorrent) and a real Transmission seed a generated file on loopback;
/// a ``PeerStateMachine`` over a plain blocking TCP socket completes the handshakes, receives the seeder's
/// availability, downloads piece 0 and checks its SHA-1. Skipped when the client is missing, unless
/// NBT_REQUIRE_INTEROP=1.
@Suite(.serialized) struct RealClientsServeAPiece {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let python = ProcessInfo.processInfo.environment["NBT_PYTHON"] ?? "/usr/bin/python3"
    static let required = ProcessInfo.processInfo.environment["NBT_REQUIRE_INTEROP"] == "1"

    struct Facts: Decodable {
        let info_hash: String
        let piece_length: Int
        let total: Int
        let pieces: Int
        let piece0_sha1: String
        let port: Int?
        let error: String?
    }

    /// Checks a tool exists; records a failure when required, else reports "skip" by returning false.
    static func available(_ check: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = check
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus == 0 { return true }
        } catch {}
        if required { Issue.record("interop tool missing: \(check.joined(separator: " "))") }
        return false
    }

    static func start(_ arguments: [String], stdout: Pipe?, log: URL?) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "120"] + arguments
        process.standardInput = Pipe()
        if let stdout {
            process.standardOutput = stdout
        } else if let log {
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: log)
        }
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Stops a process started by `start` and its child by PID. `timeout` leads its own process group, so the
    /// group is killed; SIGKILL because the test process's blocked-signal mask (SIGTERM included) is
    /// inherited by children, which then never see a SIGTERM.
    static func stop(_ process: Process) {
        if process.isRunning {
            kill(-process.processIdentifier, SIGKILL)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    static func readLine(_ pipe: Pipe) -> String {
        var data = Data()
        while true {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            data.append(chunk)
            if chunk.contains(UInt8(ascii: "\n")) { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func workdir(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-wire-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func libtorrentSeederServesOneVerifiedPiece() async throws {
        guard Self.available([Self.python, "-c", "import libtorrent"]) else { return }
        let result = try await onOwnThread { try Self.libtorrentSession() }
        if let failure = result.failure { Issue.record(Comment(rawValue: failure)) }
        #expect(result.client?.name == "libtorrent")
        #expect(result.sawAvailability && result.sawExtensionHandshake)
    }

    /// Starts a libtorrent seeder and fetches piece 0 from it (blocking: sockets and process waits).
    static func libtorrentSession() throws -> Result {
        let dir = Self.workdir("lt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ip = "127.0.41.\(Int.random(in: 2...250))"
        let pipe = Pipe()
        let seeder = try Self.start(
            [
                Self.python, Self.fixtures.appendingPathComponent("interop_seed.py").path, "libtorrent", ip, dir.path,
                "300000", "65536",
            ], stdout: pipe, log: nil)
        defer { Self.stop(seeder) }
        let facts = try JSONDecoder().decode(Facts.self, from: Data(Self.readLine(pipe).utf8))
        guard facts.error == nil, let port = facts.port else {
            return Result(failure: "libtorrent seeder failed: \(facts.error ?? "no port")")
        }
        return try Self.downloadPieceZero(host: ip, port: port, facts: facts)
    }

    @Test func transmissionSeederServesOneVerifiedPiece() async throws {
        guard Self.available(["transmission-cli", "--version"]),
            Self.available([Self.python, "-c", "import libtorrent"])
        else { return }
        let result = try await onOwnThread { try Self.transmissionSession() }
        if let failure = result.failure { Issue.record(Comment(rawValue: failure)) }
        #expect(result.client?.name == "Transmission")
        #expect(result.sawAvailability)
    }

    /// Starts a Transmission seeder and fetches piece 0 from it (blocking: sockets and process waits).
    static func transmissionSession() throws -> Result {
        let dir = Self.workdir("tr")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ip = "127.0.42.\(Int.random(in: 2...250))"
        let pipe = Pipe()
        let maker = try Self.start(
            [
                Self.python, Self.fixtures.appendingPathComponent("interop_seed.py").path, "make-torrent", ip, dir.path,
                "300000", "65536",
            ], stdout: pipe, log: nil)
        let facts = try JSONDecoder().decode(Facts.self, from: Data(Self.readLine(pipe).utf8))
        maker.waitUntilExit()
        let port = try Self.freePort(host: ip)
        let config = dir.appendingPathComponent("config")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        let settings = """
            {"bind-address-ipv4": "\(ip)", "peer-port": \(port), "peer-port-random-on-start": false,
             "dht-enabled": false, "lpd-enabled": false, "utp-enabled": false, "pex-enabled": false,
             "port-forwarding-enabled": false, "encryption": 0, "rpc-enabled": false,
             "download-dir": "\(dir.appendingPathComponent("data").path)"}
            """
        try settings.write(to: config.appendingPathComponent("settings.json"), atomically: true, encoding: .utf8)
        let seeder = try Self.start(
            [
                "transmission-cli", "-g", config.path, "-w", dir.appendingPathComponent("data").path, "-p", "\(port)",
                dir.appendingPathComponent("seed.torrent").path,
            ], stdout: nil, log: dir.appendingPathComponent("tr.log"))
        defer { Self.stop(seeder) }
        return try Self.downloadPieceZero(host: ip, port: port, facts: facts)
    }

    struct Result: Sendable {
        var client: PeerClient?
        var sawAvailability = false
        var sawExtensionHandshake = false
        /// Why no verified piece arrived (recorded by the test, on its own task).
        var failure: String?
    }

    /// Connects (retrying until the seeder listens and has verified its data), then runs the state machine.
    static func downloadPieceZero(host: String, port: Int, facts: Facts) throws -> Result {
        let deadline = Date().addingTimeInterval(60)
        var lastError = "never connected"
        while Date() < deadline {
            guard let socket = try? Socket(host: host, port: port) else {
                usleep(200_000)
                continue
            }
            defer { socket.close() }
            switch try runSession(socket, facts: facts, until: deadline) {
            case .success(let result): return result
            case .failure(let error):
                lastError = error.description
                usleep(500_000)
            }
        }
        return Result(failure: "no verified piece from \(host):\(port): \(lastError)")
    }

    struct SessionError: Error, CustomStringConvertible {
        let description: String
    }

    static func runSession(_ socket: Socket, facts: Facts, until deadline: Date) throws
        -> Swift.Result<
            Result, SessionError
        >
    {
        let pieces = facts.pieces
        var configuration = PeerConfiguration(
            infoHash: NetBitTorrentHex.decode(facts.info_hash)!, localPeerID: .generate(),
            pieceLength: facts.piece_length, totalLength: Int64(facts.total), localPieces: Bitfield(count: pieces))
        configuration.emitsPacketEvents = true
        let now = { NIODeadline.now() }
        var machine = PeerStateMachine(configuration: configuration, incoming: false, source: .user, now: now())
        _ = machine.startConnecting(now: now())
        var result = Result()
        var blocks: [Int: [UInt8]] = [:]
        var failure: String?
        func perform(_ actions: [PeerAction]) {
            for action in actions {
                switch action {
                case .sendHandshake(let handshake):
                    socket.send(handshake.encoded)
                case .send(let message):
                    socket.send(message.encoded)
                case .deliver(let block):
                    if block.piece == 0 { blocks[block.offset] = Array(block.data.readableBytesView) }
                case .event(.packet(let packet)) where packet.direction == .incoming:
                    if ["have_all", "bitfield"].contains(packet.kind) { result.sawAvailability = true }
                    if packet.kind == "extended" && packet.extendedID == 0 { result.sawExtensionHandshake = true }
                case .disconnect(let reason, let detail):
                    failure = "disconnected: \(reason) (\(detail))"
                default:
                    break
                }
            }
        }
        perform(machine.connectionEstablished(now: now()))
        let size = min(facts.piece_length, facts.total)
        while Date() < deadline && failure == nil {
            guard let bytes = socket.receive() else {
                perform(machine.connectionClosed(now: now()))
                break
            }
            if !bytes.isEmpty { perform(machine.receive(ByteBuffer(bytes: bytes), now: now())) }
            perform(machine.tick(now: now()))
            if machine.canRequest(piece: 0) {
                var wanted: [BlockRequest] = []
                var offset = 0
                while offset < size {
                    let block = BlockRequest(piece: 0, offset: offset, length: min(16384, size - offset))
                    if blocks[offset] == nil && !machine.isInFlight(block) { wanted.append(block) }
                    offset += 16384
                }
                if !wanted.isEmpty { perform(machine.request(wanted, now: now())) }
            }
            let received = blocks.values.reduce(0) { $0 + $1.count }
            if received == size {
                let piece = blocks.keys.sorted().flatMap { blocks[$0]! }
                let digest = Insecure.SHA1.hash(data: piece).map { String(format: "%02x", $0) }.joined()
                #expect(digest == facts.piece0_sha1, "piece 0 verifies against the seeder's hash")
                result.client = machine.peerID?.client
                return .success(result)
            }
        }
        return .failure(SessionError(description: failure ?? "timed out"))
    }

    static func freePort(host: String) throws -> Int {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var address = Socket.address(host: host, port: 0)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A minimal blocking TCP client socket with a short receive timeout (test-only plumbing).
final class Socket {
    let fd: Int32

    static func address(host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    init(host: String, port: Int) throws {
        fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.address(host: host, port: port)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            Glibc.close(fd)
            throw RealClientsServeAPiece.SessionError(description: "connect failed: errno \(errno)")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Bytes received (empty on timeout), or nil when the peer closed the connection.
    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 { return Array(buffer[0..<n]) }
        if n == 0 { return nil }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? [] : nil
    }

    func close() { Glibc.close(fd) }
}
