import BTEngine
import Foundation
import Testing

@testable import BTDaemon

/// The alternative ("turtle") speed limits and the peer limits of `session-set`: parsed and range-checked by
/// the dispatcher; the turtle limits hold instead of the usual ones while `alt-speed-enabled` is on (as in
/// Transmission, whatever `speed-limit-*-enabled` say); the engine takes the new maximum of connections and
/// the new encryption policy, torrents added later the per-torrent maximum;
/// `session-get` reports them, and they survive a restart.
@Suite struct SessionSetTakesTurtleLimitsAndPeerLimits {
    @Test func theDispatcherPassesThemOnAndRefusesAbsurdOnes() async throws {
        let backend = ModelBackend()
        let answer = await RPCDispatcher(backend: backend).handle(
            body: Array(
                #"{"method":"session-set","arguments":{"alt-speed-down":20,"alt-speed-up":5,"alt-speed-enabled":true}}"#
                    .utf8))
        #expect(answer.body?.objectValue?["result"] == "success")
        let changes = try #require(await backend.lastSessionChanges)
        #expect(changes.altSpeedDown == 20 && changes.altSpeedUp == 5 && changes.altSpeedEnabled == true)
        let encryption = ModelBackend()
        let taken = await RPCDispatcher(backend: encryption).handle(
            body: Array(#"{"method":"session-set","arguments":{"encryption":"required"}}"#.utf8))
        #expect(taken.body?.objectValue?["result"] == "success")
        #expect(await encryption.lastSessionChanges?.encryption == "required")
        for absurd in [
            #"{"alt-speed-down":-1}"#, #"{"peer-limit-global":0}"#, #"{"peer-limit-global":1e12}"#,
            #"{"peer-limit-per-torrent":-5}"#, #"{"encryption":"always"}"#, #"{"encryption":2}"#,
        ] {
            let refused = await RPCDispatcher(backend: ModelBackend()).handle(
                body: Array(#"{"method":"session-set","arguments":"#.utf8) + Array(absurd.utf8) + Array("}".utf8))
            #expect(refused.body?.objectValue?["result"] != "success")
        }
    }

    @Test func theyHoldInsteadOfTheUsualLimitsWhileOn() {
        var state = DaemonState(downloadDir: "/data")
        state.speedLimitDown = 300
        state.speedLimitDownEnabled = true
        #expect(state.effectiveDownloadLimit == 300 && state.effectiveUploadLimit == nil)
        state.altSpeedEnabled = true
        state.altSpeedDown = 20
        state.altSpeedUp = 5
        #expect(state.effectiveDownloadLimit == 20 && state.effectiveUploadLimit == 5)
        state.altSpeedEnabled = false
        #expect(state.effectiveDownloadLimit == 300 && state.effectiveUploadLimit == nil)
    }

    @Test func theEngineBackendReportsAndKeepsThem() async throws {
        let base = try EngineBackendKeepsTorrentsAcrossRestarts.folder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let client = try await Client(configuration: EngineBackendKeepsTorrentsAcrossRestarts.configuration())
        let backend = try EngineBackend(
            client: client, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        var changes = SessionChanges()
        changes.altSpeedDown = 20
        changes.altSpeedUp = 5
        changes.altSpeedEnabled = true
        changes.peerLimitGlobal = 7
        changes.peerLimitPerTorrent = 3
        changes.encryption = "required"
        try await backend.setSession(changes)
        // A torrent added from now on gets the new per-torrent maximum.
        let torrent = try EngineBackendKeepsTorrentsAcrossRestarts.torrent(
            named: "t.bin", in: base + "/data", bytes: 1000)
        _ = try await backend.add(AddTorrentRequest(source: .metainfo(torrent.encoded())))
        await backend.settled()
        let added = try #require(await backend.snapshots(ids: [1], detail: []).first)
        #expect(added.peerLimit == 3)
        let settings = await backend.session()
        #expect(settings.altSpeedDown == 20 && settings.altSpeedUp == 5 && settings.altSpeedEnabled)
        let maximum = await client.maximumConnections()
        #expect(settings.peerLimitGlobal == 7 && maximum == 7)
        #expect(settings.peerLimitPerTorrent == 3)
        let policy = await client.encryption()
        #expect(settings.encryption == "required" && policy == .required)
        await client.shutdown()
        let restored = try #require(try StateStore.load(from: base + "/config"))
        #expect(restored.altSpeedEnabled && restored.effectiveDownloadLimit == 20 && restored.effectiveUploadLimit == 5)
        #expect(restored.peerLimitGlobal == 7)
        // A restart applies the saved maximum to the new engine.
        let again = try await Client(configuration: EngineBackendKeepsTorrentsAcrossRestarts.configuration())
        let restarted = try EngineBackend(
            client: again, configDir: base + "/config", downloadDir: base + "/data", logger: .init(label: "test"))
        await restarted.restore()
        #expect(await again.maximumConnections() == 7)
        #expect(await again.encryption() == .required)
        await again.shutdown()
    }
}
