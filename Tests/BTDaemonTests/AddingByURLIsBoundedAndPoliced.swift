import BTEngine
import BTMetainfo
import BTTracker
import Foundation
import Testing

@testable import BTDaemon

/// `torrent-add` with an http URL: the daemon fetches the .torrent (following a redirect) from a small
/// Python HTTP server on 127.0.0.1 (killed by PID), and adds it; a body over the size limit, an HTTP error, a
/// server that never answers (the timeout), and an address the tracker policy forbids are each refused with
/// an error, never a hang.
@Suite(.serialized) struct AddingByURLIsBoundedAndPoliced {
    /// A Python HTTP server serving `folder` on 127.0.0.1 for at most 60 s: `/slow` never answers,
    /// `/redirect` answers 302 to `/one.torrent`.
    final class PythonServer {
        let process = Process()
        let port: Int

        init(serving folder: String) throws {
            let script = """
                import http.server, os, sys, time
                class H(http.server.SimpleHTTPRequestHandler):
                    def log_message(self, *a): pass
                    def do_GET(self):
                        if self.path == '/slow':
                            time.sleep(30); return
                        if self.path == '/redirect':
                            self.send_response(302); self.send_header('Location', '/one.torrent')
                            self.send_header('Content-Length', '0'); self.end_headers(); return
                        return super().do_GET()
                os.chdir(sys.argv[1])
                s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
                s.daemon_threads = True
                s.timeout = 0.5
                print(s.server_address[1], flush=True)
                end = time.time() + 60
                while time.time() < end:
                    s.handle_request()
                """
            // Bounded by itself (60 s), killed by PID by `stop()`.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", script, folder]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
            guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                process.terminate()
                throw DaemonError(.bindFailed, "the Python server did not start: \(line)")
            }
            self.port = port
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
        }
    }

    @Test func aTorrentIsFetchedByURLAndBadAnswersAreRefused() async throws {
        let base = try EngineBackendKeepsTorrentsAcrossRestarts.folder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let torrent = try EngineBackendKeepsTorrentsAcrossRestarts.torrent(
            named: "one.bin", in: base + "/data", bytes: 50_000)
        try FileManager.default.createDirectory(atPath: base + "/www", withIntermediateDirectories: true)
        try Data(torrent.encoded()).write(to: URL(fileURLWithPath: base + "/www/one.torrent"))
        // One byte over the 10 MiB limit (sparse: nothing is written).
        FileManager.default.createFile(atPath: base + "/www/huge.torrent", contents: nil)
        let huge = try FileHandle(forWritingTo: URL(fileURLWithPath: base + "/www/huge.torrent"))
        try huge.truncate(atOffset: 10 << 20 + 1)
        try huge.close()
        let server = try PythonServer(serving: base + "/www")
        defer { server.stop() }
        let root = "http://127.0.0.1:\(server.port)"

        let client = try await Client(configuration: EngineBackendKeepsTorrentsAcrossRestarts.configuration())
        let backend = try EngineBackend(
            client: client, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        let hash = InfoHashes.hex(torrent.infoHashes.wire)
        #expect(
            try await backend.add(AddTorrentRequest(source: .url(root + "/redirect")))
                == .added(id: 1, name: "one.bin", hashString: hash))
        #expect(
            try await backend.add(AddTorrentRequest(source: .url(root + "/one.torrent")))
                == .duplicate(id: 1, name: "one.bin", hashString: hash))

        func refusal(_ fetcher: TorrentURLFetcher, _ url: String) async -> String {
            do {
                _ = try await fetcher.fetch(url)
                return "fetched"
            } catch {
                return error.reason
            }
        }
        var fetcher = TorrentURLFetcher(addressPolicy: .default)
        #expect(await refusal(fetcher, root + "/huge.torrent").contains("larger than 10485760 bytes"))
        #expect(await refusal(fetcher, root + "/missing.torrent").contains("HTTP 404"))
        #expect(await refusal(fetcher, "ftp://127.0.0.1/x").contains("cannot fetch"))
        fetcher.timeout = .milliseconds(800)
        let start = ContinuousClock.now
        #expect(await refusal(fetcher, root + "/slow").contains("in time"))
        #expect(ContinuousClock.now - start < .seconds(5))
        // A policy without loopback (as for a daemon whose trackers may not reach local services) refuses it.
        let strict = TorrentURLFetcher(addressPolicy: TrackerAddressPolicy(allowLoopback: false))
        #expect(await refusal(strict, root + "/one.torrent").contains("cannot fetch"))
        #expect(await backend.torrentIDs().map(\.id) == [1])
        await client.shutdown()
    }
}
