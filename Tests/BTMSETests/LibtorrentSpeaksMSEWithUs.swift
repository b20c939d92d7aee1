import Foundation
import NIOCore
import Testing

@testable import BTMSE

#if canImport(Glibc)
    import Glibc
#endif

/// Interop: a real libtorrent 2.0 (python3-libtorrent, `Fixtures/libtorrent_mse_peer.py`) with encryption
/// forced (pe_forced both ways, pe_rc4 only) completes the MSE handshake with our initiator (we dial its
/// seed) and with our responder (it dials us), over loopback TCP; the BitTorrent handshake travels inside
/// and messages flow through RC4 both ways. With NBT_RECORD_MSE=1 each run rewrites the transcript
/// fixtures that `RecordedLibtorrentHandshakesReplay` replays. Skipped when libtorrent is missing, unless
/// NBT_REQUIRE_INTEROP=1.
@Suite(.serialized) struct LibtorrentSpeaksMSEWithUs {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let python = ProcessInfo.processInfo.environment["NBT_PYTHON"] ?? "/usr/bin/python3"
    static let required = ProcessInfo.processInfo.environment["NBT_REQUIRE_INTEROP"] == "1"
    static let recording = ProcessInfo.processInfo.environment["NBT_RECORD_MSE"] == "1"

    static var libtorrentAvailable: Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import libtorrent"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    struct Facts: Decodable {
        let info_hash: String?
        let pieces: Int?
        let port: Int?
        let error: String?
    }

    struct Outcome: Sendable {
        var failure: String?
        var method: MSECryptoMethod?
        var remoteHandshake: [UInt8] = []
        var messageIDs: [UInt8] = []
        var infoHash: [UInt8] = []
        /// Whether a plaintext `BitTorrent protocol` handshake appeared in the raw bytes either way.
        var plaintextOnTheWire = false
    }

    static func containsPlaintextHandshake(_ bytes: [UInt8]) -> Bool {
        let marker = [19] + Array("BitTorrent protocol".utf8)
        guard bytes.count >= marker.count else { return false }
        return (0...(bytes.count - marker.count)).contains { Array(bytes[$0..<($0 + marker.count)]) == marker }
    }

    @Test func ourInitiatorHandshakesWithALibtorrentSeed() async throws {
        guard Self.libtorrentAvailable else {
            if Self.required { Issue.record("python3-libtorrent missing") }
            return
        }
        let outcome = try await onOwnThread { try Self.dialLibtorrent() }
        if let failure = outcome.failure { Issue.record(Comment(rawValue: failure)) }
        #expect(outcome.method == .rc4)
        #expect(!outcome.plaintextOnTheWire)
        #expect(Array(outcome.remoteHandshake.prefix(20)) == [19] + Array("BitTorrent protocol".utf8))
        #expect(Array(outcome.remoteHandshake[28..<min(48, outcome.remoteHandshake.count)]) == outcome.infoHash)
        // The seed's availability (bitfield, 5) and its answer to our encrypted `interested` (unchoke, 1).
        #expect(outcome.messageIDs.contains(5) && outcome.messageIDs.contains(1))
    }

    @Test func libtorrentHandshakesWithOurResponder() async throws {
        guard Self.libtorrentAvailable else {
            if Self.required { Issue.record("python3-libtorrent missing") }
            return
        }
        let outcome = try await onOwnThread { try Self.acceptLibtorrent() }
        if let failure = outcome.failure { Issue.record(Comment(rawValue: failure)) }
        #expect(outcome.method == .rc4)
        #expect(!outcome.plaintextOnTheWire)
        #expect(Array(outcome.remoteHandshake.prefix(20)) == [19] + Array("BitTorrent protocol".utf8))
        #expect(Array(outcome.remoteHandshake[28..<min(48, outcome.remoteHandshake.count)]) == outcome.infoHash)
        // The leecher's `interested` (2), its answer to our encrypted bitfield.
        #expect(outcome.messageIDs.contains(2))
    }

    // MARK: - Sessions (blocking: sockets and process waits, run on their own thread)

    static let initiatorRandomness = MSETestSupport.randomness(seed: 0x4d5345, clearPad: 200, encryptedPad: 16)
    static let responderRandomness = MSETestSupport.randomness(seed: 0x505245, clearPad: 100, encryptedPad: 10)
    static let ourPeerID = Array("-NB0100-".utf8) + [UInt8](repeating: 0x6d, count: 12)

    static func handshake(_ infoHash: [UInt8]) -> [UInt8] {
        [19] + Array("BitTorrent protocol".utf8) + [UInt8](repeating: 0, count: 8) + infoHash + ourPeerID
    }

    /// We dial a libtorrent seed: initiator with our BitTorrent handshake as IA; after the handshake we send
    /// `interested` through RC4 and wait for the bitfield and the unchoke.
    static func dialLibtorrent() throws -> Outcome {
        let dir = workdir("seed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ip = "127.0.45.\(Int.random(in: 2...250))"
        let pipe = Pipe()
        let peer = try start(
            [python, fixtures.appendingPathComponent("libtorrent_mse_peer.py").path, "seed", ip, dir.path], stdout: pipe
        )
        defer { stop(peer) }
        let facts = try JSONDecoder().decode(Facts.self, from: Data(readLine(pipe).utf8))
        guard facts.error == nil, let port = facts.port, let hex = facts.info_hash else {
            return Outcome(failure: "libtorrent failed: \(facts.error ?? "no port")")
        }
        let infoHash = MSETestSupport.bytes(hex: hex)
        let deadline = Date().addingTimeInterval(30)
        var socket: MSETestSocket?
        while socket == nil && Date() < deadline {
            socket = try? MSETestSocket(connectingTo: ip, port: port)
            if socket == nil { usleep(100_000) }
        }
        guard let socket else { return Outcome(failure: "could not connect to libtorrent at \(ip):\(port)") }
        defer { socket.close() }
        var outcome = Outcome(infoHash: infoHash)
        let ia = handshake(infoHash)
        let interested: [UInt8] = [0, 0, 0, 1, 2]
        var initiator = try MSEInitiator(
            skey: infoHash, provide: .rc4, initialPayload: ia, randomness: initiatorRandomness)
        var sent: [UInt8] = []
        var received: [UInt8] = []
        var payload: [UInt8] = []
        var result: MSEHandshakeResult?
        func send(_ bytes: [UInt8]) {
            sent += bytes
            socket.send(bytes)
        }
        if case .send(let first) = initiator.start() { send(Array(first.readableBytesView)) }
        while Date() < deadline {
            guard let bytes = socket.receive() else {
                outcome.failure = "libtorrent closed the connection"
                break
            }
            if bytes.isEmpty { continue }
            received += bytes
            if var done = result {
                var buffer = bytes
                done.incoming?.apply(to: &buffer)
                result = done
                payload += buffer
            } else {
                for action in initiator.receive(ByteBuffer(bytes: bytes)) {
                    switch action {
                    case .send(let out): send(Array(out.readableBytesView))
                    case .fail(let error): outcome.failure = "handshake failed: \(error)"
                    case .complete(var done):
                        outcome.method = done.method
                        payload += done.payload.readableBytesView
                        var message = interested
                        done.outgoing?.apply(to: &message)
                        send(message)
                        result = done
                    }
                }
            }
            if outcome.failure != nil { break }
            if let stream = bitTorrentStream(payload) {
                outcome.remoteHandshake = stream.handshake
                outcome.messageIDs = stream.messageIDs
                if stream.messageIDs.contains(5) && stream.messageIDs.contains(1) { break }
            }
        }
        outcome.plaintextOnTheWire = containsPlaintextHandshake(sent) || containsPlaintextHandshake(received)
        if recording {
            let transcript = MSETranscript(
                role: "initiator", infoHash: infoHash, randomness: initiatorRandomness, initialPayload: ia,
                afterHandshake: interested, sent: sent, received: received)
            try transcript.text(comment: "libtorrent 2.0.8 seed (forced RC4) dialled by our MSEInitiator on loopback")
                .write(
                    to: fixtures.appendingPathComponent("libtorrent-seed-initiator.transcript"), atomically: true,
                    encoding: .utf8)
        }
        return outcome
    }

    /// libtorrent (a leecher) dials our responder; after the handshake we reply with our BitTorrent
    /// handshake and a full bitfield through RC4 and wait for its `interested`.
    static func acceptLibtorrent() throws -> Outcome {
        let dir = workdir("dial")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ourIP = "127.0.46.\(Int.random(in: 2...250))"
        let peerIP = "127.0.47.\(Int.random(in: 2...250))"
        let listener = try MSETestSocket(listeningOn: ourIP)
        defer { listener.close() }
        let pipe = Pipe()
        let peer = try start(
            [
                python, fixtures.appendingPathComponent("libtorrent_mse_peer.py").path, "dial", peerIP, dir.path, ourIP,
                "\(listener.port)",
            ],
            stdout: pipe)
        defer { stop(peer) }
        let facts = try JSONDecoder().decode(Facts.self, from: Data(readLine(pipe).utf8))
        guard facts.error == nil, let hex = facts.info_hash, let pieces = facts.pieces else {
            return Outcome(failure: "libtorrent failed: \(facts.error ?? "no facts")")
        }
        let infoHash = MSETestSupport.bytes(hex: hex)
        guard let socket = listener.accept(timeoutMilliseconds: 30_000) else {
            return Outcome(failure: "libtorrent never dialled \(ourIP):\(listener.port)")
        }
        defer { socket.close() }
        var outcome = Outcome(infoHash: infoHash)
        var bitfield = [UInt8](repeating: 0, count: (pieces + 7) / 8)
        for piece in 0..<pieces { bitfield[piece / 8] |= 0x80 >> UInt8(piece % 8) }
        let length = UInt32(1 + bitfield.count)
        let reply = handshake(infoHash) + withUnsafeBytes(of: length.bigEndian) { Array($0) } + [5] + bitfield
        var responder = MSEResponder(index: SKEYIndex([infoHash]), allowed: .rc4, randomness: responderRandomness)
        var sent: [UInt8] = []
        var received: [UInt8] = []
        var payload: [UInt8] = []
        var result: MSEHandshakeResult?
        func send(_ bytes: [UInt8]) {
            sent += bytes
            socket.send(bytes)
        }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            guard let bytes = socket.receive() else {
                outcome.failure = "libtorrent closed the connection"
                break
            }
            if bytes.isEmpty { continue }
            received += bytes
            if var done = result {
                var buffer = bytes
                done.incoming?.apply(to: &buffer)
                result = done
                payload += buffer
            } else {
                for action in responder.receive(ByteBuffer(bytes: bytes)) {
                    switch action {
                    case .send(let out): send(Array(out.readableBytesView))
                    case .fail(let error): outcome.failure = "handshake failed: \(error)"
                    case .complete(var done):
                        outcome.method = done.method
                        payload += done.payload.readableBytesView
                        var message = reply
                        done.outgoing?.apply(to: &message)
                        send(message)
                        result = done
                    }
                }
            }
            if outcome.failure != nil { break }
            if let stream = bitTorrentStream(payload) {
                outcome.remoteHandshake = stream.handshake
                outcome.messageIDs = stream.messageIDs
                if stream.messageIDs.contains(2) { break }
            }
        }
        outcome.plaintextOnTheWire = containsPlaintextHandshake(sent) || containsPlaintextHandshake(received)
        if recording {
            let transcript = MSETranscript(
                role: "responder", infoHash: infoHash, randomness: responderRandomness, initialPayload: [],
                afterHandshake: reply, sent: sent, received: received)
            try transcript.text(comment: "libtorrent 2.0.8 leecher (forced RC4) dialling our MSEResponder on loopback")
                .write(
                    to: fixtures.appendingPathComponent("libtorrent-leecher-responder.transcript"), atomically: true,
                    encoding: .utf8)
        }
        return outcome
    }

    // MARK: - Processes

    static func workdir(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-mse-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Starts `arguments` under `timeout` (120 s, then SIGKILL), stdout to `stdout`.
    static func start(_ arguments: [String], stdout: Pipe) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "120"] + arguments
        process.standardInput = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Stops a process started by `start` by PID: `timeout` leads its own process group, which is killed
    /// with SIGKILL (the test runner's blocked-signal mask is inherited, so SIGTERM may go unseen).
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
}

/// Runs blocking work (sockets, process waits) on a thread of its own instead of the cooperative pool.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// A minimal blocking IPv4 TCP socket with a short receive timeout (test-only plumbing).
final class MSETestSocket {
    let fd: Int32
    private(set) var port = 0

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func address(host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    private init(fd: Int32) {
        self.fd = fd
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    convenience init(connectingTo host: String, port: Int) throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.address(host: host, port: port)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            Glibc.close(fd)
            throw Failure(description: "connect failed: errno \(errno)")
        }
        self.init(fd: fd)
    }

    convenience init(listeningOn host: String) throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.address(host: host, port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 4) == 0 else {
            Glibc.close(fd)
            throw Failure(description: "bind/listen failed: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.init(fd: fd)
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// The next incoming connection, or nil after `timeoutMilliseconds`.
    func accept(timeoutMilliseconds: Int32) -> MSETestSocket? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return nil }
        let client = Glibc.accept(fd, nil, nil)
        return client >= 0 ? MSETestSocket(fd: client) : nil
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
