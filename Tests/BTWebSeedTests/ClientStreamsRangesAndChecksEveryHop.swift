import BTMetainfo
import BTTracker
import BTWebSeed
import NIOCore
import NIOPosix
import Testing

@Suite struct ClientStreamsRangesAndChecksEveryHop {
    let file = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }

    func range(_ offset: Int, _ length: Int) -> WebSeedRange {
        WebSeedRange(
            fileIndex: 0, offsetInFile: Int64(offset), length: length, fileLength: Int64(file.count), isPadFile: false)
    }

    func withClient<T: Sendable>(
        respond: @escaping @Sendable (LoopbackWebServer.Request) -> (bytes: [UInt8], close: Bool),
        _ body: (WebSeedClient, Int) async throws -> T
    ) async throws -> T {
        let server = try await LoopbackWebServer(respond: respond)
        let client = WebSeedClient(
            configuration: .init(timeout: .seconds(5)), group: MultiThreadedEventLoopGroup.singleton)
        do {
            let result = try await body(client, server.port)
            await client.shutdown()
            await server.close()
            return result
        } catch {
            await client.shutdown()
            await server.close()
            throw error
        }
    }

    func fetch(_ client: WebSeedClient, _ url: String, _ range: WebSeedRange) async throws(WebSeedError)
        -> (url: String, bytes: [UInt8])
    {
        let collected = Collected()
        let final = try await client.fetch(url, range: range) { chunk throws(WebSeedError) in
            collected.bytes += Array(chunk.readableBytesView)
        }
        return (final, collected.bytes)
    }

    final class Collected: @unchecked Sendable { var bytes: [UInt8] = [] }

    @Test func aRangeArrivesExactlyOverKeepAlive() async throws {
        let file = self.file
        try await withClient(respond: { (LoopbackWebServer.partial(file, $0), false) }) { client, port in
            for (offset, length) in [(0, 1), (12_345, 40_000), (99_000, 1_000)] {
                let result = try await fetch(client, "http://127.0.0.1:\(port)/f", range(offset, length))
                #expect(result.bytes == Array(file[offset..<(offset + length)]))
            }
        }
    }

    @Test func aRelativeRedirectIsFollowedAndReported() async throws {
        let file = self.file
        try await withClient(respond: { request in
            if request.path == "/old/f" {
                return (Array("HTTP/1.1 302 Found\r\nLocation: ../new/f\r\nContent-Length: 0\r\n\r\n".utf8), false)
            }
            return (LoopbackWebServer.partial(file, request), false)
        }) { client, port in
            let result = try await fetch(client, "http://127.0.0.1:\(port)/old/f", range(10, 10))
            #expect(result.url == "http://127.0.0.1:\(port)/old/../new/f")
            #expect(result.bytes == Array(file[10..<20]))
        }
    }

    @Test func aRedirectToAPrivateAddressIsRefusedBeforeAnyConnection() async throws {
        try await withClient(respond: { _ in
            (Array("HTTP/1.1 301 Moved\r\nLocation: http://10.1.2.3/f\r\nContent-Length: 0\r\n\r\n".utf8), false)
        }) { client, port in
            do {
                _ = try await fetch(client, "http://127.0.0.1:\(port)/f", range(0, 10))
                Issue.record("a redirect to a private address was followed")
            } catch let error as WebSeedError {
                #expect(error.code == .addressRefused)
            }
        }
    }

    @Test func unavailableReportsRetryAfter() async throws {
        try await withClient(respond: { _ in
            (Array("HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n".utf8), false)
        }) { client, port in
            do {
                _ = try await fetch(client, "http://127.0.0.1:\(port)/f", range(0, 10))
                Issue.record("a 503 was taken as content")
            } catch let error as WebSeedError {
                #expect(error.code == .unavailable && error.retryAfterSeconds == 7)
            }
        }
    }

    @Test func aBodyLongerThanTheRangeIsCutOff() async throws {
        // A 206 with the right Content-Range but no length, whose body runs on until the server closes.
        try await withClient(respond: { request in
            let head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100000\r\nConnection: close\r\n\r\n"
            return (Array(head.utf8) + [UInt8](repeating: 1, count: 5_000), true)
        }) { client, port in
            do {
                _ = try await fetch(client, "http://127.0.0.1:\(port)/f", range(0, 10))
                Issue.record("more bytes than asked for were accepted")
            } catch let error as WebSeedError {
                #expect(error.code == .wrongLength)
            }
        }
    }

    @Test func aBodyCutShortIsAnError() async throws {
        try await withClient(respond: { request in
            let head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-999/100000\r\nConnection: close\r\n\r\n"
            return (Array(head.utf8) + [UInt8](repeating: 1, count: 10), true)
        }) { client, port in
            do {
                _ = try await fetch(client, "http://127.0.0.1:\(port)/f", range(0, 1000))
                Issue.record("a short body was accepted")
            } catch let error as WebSeedError {
                #expect(error.code == .wrongLength || error.code == .connectionFailed)
            }
        }
    }

    @Test func aPrivateWebSeedIsRefusedByTheDefaultPolicy() async throws {
        let client = WebSeedClient(group: MultiThreadedEventLoopGroup.singleton)
        do {
            _ = try await fetch(client, "http://192.168.1.1/f", range(0, 10))
            Issue.record("a private address was contacted")
        } catch {
            #expect(error.code == .addressRefused)
        }
        await client.shutdown()
    }
}
