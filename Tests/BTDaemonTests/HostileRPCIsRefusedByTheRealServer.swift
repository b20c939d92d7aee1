import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTDaemon

/// The real HTTP server on loopback, driven with raw bytes: each hostile request is refused with the right
/// status, and the server keeps answering the next well-formed request.
@Suite struct HostileRPCIsRefusedByTheRealServer {
    static func withServer(
        credentials: (String, String)? = nil, limits: RPCServer.Limits = RPCServer.Limits(), web: WebFolder? = nil,
        _ body: (RPCServer, String) async throws -> Void
    ) async throws {
        var configuration = RPCGate.Configuration()
        configuration.credentials = credentials
        configuration.maximumBodyBytes = 64 * 1024
        let gate = RPCGate(configuration: configuration)
        let server = try await RPCServer.start(
            host: "127.0.0.1", port: 0, gate: gate, dispatcher: RPCDispatcher(backend: ModelBackend()), web: web,
            limits: limits)
        do {
            try await body(server, gate.sessionID)
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    /// The server still answers a good request.
    static func stillAnswers(_ server: RPCServer, _ session: String) async throws {
        let answer = try await RawHTTP.post(
            #"{"method":"session-stats","tag":1}"#, port: server.port, sessionID: session)
        #expect(answer.status == 200)
        #expect(answer.body.contains(#""result":"success""#))
    }

    @Test func theSessionHandshakeGives409ThenAnswers() async throws {
        try await Self.withServer { server, session in
            let first = try await RawHTTP.post(#"{"method":"session-get"}"#, port: server.port, sessionID: nil)
            #expect(first.status == 409)
            #expect(first.header("X-Transmission-Session-Id") == session)
            let wrong = try await RawHTTP.post(#"{"method":"session-get"}"#, port: server.port, sessionID: "stale")
            #expect(wrong.status == 409)
            let second = try await RawHTTP.post(
                #"{"method":"session-get","tag":3}"#, port: server.port,
                sessionID: first.header("X-Transmission-Session-Id"))
            #expect(second.status == 200)
            #expect(second.header("Content-Type")?.hasPrefix("application/json") == true)
            let json = try JSONValue.parse(Array(second.body.utf8))
            #expect(json.objectValue?["tag"] == 3 && json.objectValue?["result"] == "success")
        }
    }

    @Test func aForeignHostIsMisdirected() async throws {
        try await Self.withServer { server, session in
            for host in ["evil.example", "evil.example:9091", "127.0.0.1.nip.io"] {
                let answer = try await RawHTTP.post(
                    #"{"method":"session-get"}"#, port: server.port, hostHeader: host, sessionID: session)
                #expect(answer.status == 421, "\(host)")
            }
            try await Self.stillAnswers(server, session)
        }
    }

    @Test func wrongCredentialsGet401() async throws {
        try await Self.withServer(credentials: ("alice", "pw")) { server, session in
            let none = try await RawHTTP.post(#"{"method":"session-get"}"#, port: server.port, sessionID: session)
            #expect(none.status == 401)
            let wrong = try await RawHTTP.post(
                #"{"method":"session-get"}"#, port: server.port, sessionID: session,
                extraHeaders: ["Authorization: Basic " + Data("alice:nope".utf8).base64EncodedString()])
            #expect(wrong.status == 401)
            let right = try await RawHTTP.post(
                #"{"method":"session-get"}"#, port: server.port, sessionID: session,
                extraHeaders: ["Authorization: Basic " + Data("alice:pw".utf8).base64EncodedString()])
            #expect(right.status == 200)
        }
    }

    @Test func oversizedBodiesGet413() async throws {
        try await Self.withServer { server, session in
            // Declared too large: refused from the head, the body never read.
            let declared =
                "POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Transmission-Session-Id: \(session)\r\nContent-Length: 999999999\r\n\r\n{"
            #expect(try await RawHTTP.exchange(Array(declared.utf8), port: server.port).status == 413)
            // Chunked and growing past the limit.
            var chunked =
                "POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Transmission-Session-Id: \(session)\r\nTransfer-Encoding: chunked\r\n\r\n"
            let chunk = String(repeating: "a", count: 16 * 1024)
            for _ in 0..<5 { chunked += String(chunk.count, radix: 16) + "\r\n" + chunk + "\r\n" }
            #expect(try await RawHTTP.exchange(Array(chunked.utf8), port: server.port).status == 413)
            try await Self.stillAnswers(server, session)
        }
    }

    @Test func malformedJSONAndAbsurdArgumentsGetErrorResults() async throws {
        try await Self.withServer { server, session in
            for body in [
                "{", "not json", String(repeating: "[", count: 50_000),
                #"{"method":"torrent-set","arguments":{"ids":[1],"downloadLimit":-5}}"#,
                #"{"method":"torrent-get","arguments":{"fields":"all"}}"#, "\u{0}\u{1}\u{2}",
            ] {
                let answer = try await RawHTTP.post(body, port: server.port, sessionID: session)
                #expect(answer.status == 200)
                let json = try JSONValue.parse(Array(answer.body.utf8))
                #expect(json.objectValue?["result"]?.stringValue.map { $0 != "success" } == true)
                #expect(json.objectValue?["arguments"] == [:])
            }
            try await Self.stillAnswers(server, session)
        }
    }

    @Test func garbageThatIsNotHTTPIsDroppedAndTheServerLives() async throws {
        try await Self.withServer { server, session in
            let garbage = try await RawHTTP.exchange(Array("\u{16}\u{3}\u{1}garbage\r\n\r\n".utf8), port: server.port)
            #expect(garbage.status == 400 || garbage.text.isEmpty)
            let hugeHeader =
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + String(repeating: "x", count: 100_000) + "\r\n\r\n"
            let big = try await RawHTTP.exchange(Array(hugeHeader.utf8), port: server.port)
            #expect(big.status == 400 || big.status == 431 || big.text.isEmpty)
            let wrongPath = try await RawHTTP.exchange(
                Array("GET /etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8),
                port: server.port)
            #expect(wrongPath.status == 404)
            try await Self.stillAnswers(server, session)
        }
    }

    @Test func theWebFolderIsServedAndNothingOutsideIt() async throws {
        let (base, web) = try WebFolderRefusesTraversal.makeFolder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try await Self.withServer(web: web) { server, session in
            func get(_ path: String, host: String = "127.0.0.1") async throws -> RawHTTP.Answer {
                try await RawHTTP.exchange(
                    Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8), port: server.port)
            }
            let index = try await get("/transmission/web/")
            #expect(index.status == 200 && index.body == "<html>")
            #expect(index.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(try await get("/").header("Location") == "/transmission/web/")
            for path in [
                "/transmission/web/../secret.txt", "/transmission/web/%2e%2e/secret.txt", "/transmission/web/escape",
            ] {
                let answer = try await get(path)
                #expect(answer.status == 403, "\(path)")
                #expect(!answer.body.contains("secret"))
            }
            #expect(try await get("/transmission/web/", host: "evil.example").status == 421)
            try await Self.stillAnswers(server, session)
        }
    }

    @Test func connectionsBeyondTheLimitAreClosed() async throws {
        var limits = RPCServer.Limits()
        limits.maximumConnections = 2
        try await Self.withServer(limits: limits) { server, session in
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let held = try await (0..<2).asyncMap { _ in
                try await ClientBootstrap(group: loop).connect(host: "127.0.0.1", port: server.port).get()
            }
            try await Task.sleep(for: .milliseconds(200))
            let refused = try await RawHTTP.exchange(
                Array("POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8), port: server.port,
                timeout: .seconds(3))
            #expect(refused.text.isEmpty)
            for channel in held { try await channel.close() }
            try await Task.sleep(for: .milliseconds(200))
            try await Self.stillAnswers(server, session)
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
