import BTEngine
import CoreMetrics
import Foundation
import Testing

@testable import BTDaemon

/// `GET /metrics` answers the engine's swift-metrics counters and gauges in Prometheus' text format: every
/// kind of metric is written with its `# TYPE`, labels are sorted and escaped, names reduced to Prometheus'
/// alphabet; a real engine's counters appear through ``BTEngine/ClientConfiguration/metricsFactory``; the
/// page is behind the RPC's authentication and Host check, not behind the session id.
@Suite struct MetricsAreServedInPrometheusFormat {
    @Test func everyKindIsWrittenInTheTextFormat() {
        let metrics = PrometheusMetrics()
        Counter(label: "nbt_bytes", dimensions: [], factory: metrics).increment(by: 1500)
        Counter(label: "nbt_disconnects", dimensions: [("reason", "a \"bad\"\\peer\n")], factory: metrics).increment()
        Counter(label: "nbt_disconnects", dimensions: [("reason", "idle")], factory: metrics).increment(by: 2)
        Gauge(label: "nbt.peers-connected", dimensions: [], factory: metrics).record(7)
        let recorder = Recorder(label: "nbt_piece_bytes", dimensions: [], aggregate: true, factory: metrics)
        recorder.record(100)
        recorder.record(50)
        Timer(label: "nbt_hash_time", dimensions: [], factory: metrics).recordNanoseconds(1_500_000_000)
        #expect(
            metrics.exposition() == """
                # TYPE nbt_bytes counter
                nbt_bytes 1500
                # TYPE nbt_disconnects counter
                nbt_disconnects{reason="a \\"bad\\"\\\\peer\\n"} 1
                nbt_disconnects{reason="idle"} 2
                # TYPE nbt_hash_time summary
                nbt_hash_time_sum 1.5
                nbt_hash_time_count 1
                # TYPE nbt_peers_connected gauge
                nbt_peers_connected 7
                # TYPE nbt_piece_bytes summary
                nbt_piece_bytes_sum 150
                nbt_piece_bytes_count 2

                """)
        #expect(PrometheusMetrics.name("9lives:x") == "_lives_x")
    }

    @Test func theEnginesCountersAreServedBehindTheGate() async throws {
        let metrics = PrometheusMetrics()
        var configuration = EngineBackendKeepsTorrentsAcrossRestarts.configuration()
        configuration.metricsFactory = metrics
        let client = try await Client(configuration: configuration)
        var gateConfiguration = RPCGate.Configuration()
        gateConfiguration.credentials = ("alice", "secret")
        let server = try await RPCServer.start(
            host: "127.0.0.1", port: 0, gate: RPCGate(configuration: gateConfiguration),
            dispatcher: RPCDispatcher(backend: ModelBackend()), web: nil, metrics: metrics)
        func get(host: String, authorized: Bool) async throws -> RawHTTP.Answer {
            var lines = ["GET /metrics HTTP/1.1", "Connection: close", "Host: \(host)"]
            if authorized { lines.append("Authorization: Basic " + Data("alice:secret".utf8).base64EncodedString()) }
            return try await RawHTTP.exchange(
                Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8), port: server.port)
        }
        let answer = try await get(host: "127.0.0.1:\(server.port)", authorized: true)
        #expect(answer.status == 200)
        #expect(answer.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(answer.body.contains("# TYPE nbt_engine_downloaded_bytes counter"))
        #expect(
            answer.body.contains("nbt_engine_torrents 0") || answer.body.contains("# TYPE nbt_engine_torrents gauge"))
        #expect(try await get(host: "127.0.0.1:\(server.port)", authorized: false).status == 401)
        #expect(try await get(host: "evil.example", authorized: true).status == 421)
        await server.close()
        await client.shutdown()
    }
}
