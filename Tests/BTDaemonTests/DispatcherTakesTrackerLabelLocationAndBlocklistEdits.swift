import Testing

@testable import BTDaemon

/// The second slice's methods and arguments reach the backend in Transmission's shapes: `torrent-set`'s
/// `trackerAdd`/`trackerRemove`/`trackerReplace`/`trackerList` and `labels`, `torrent-set-location`,
/// `torrent-rename-path`, `blocklist-update` and the blocklist session keys, `torrent-add` by URL; absurd
/// values are refused before the backend is called. The tier arithmetic of tracker edits is checked on its
/// own.
@Suite struct DispatcherTakesTrackerLabelLocationAndBlocklistEdits {
    func call(_ text: String, backend: ModelBackend = ModelBackend()) async throws -> [String: JSONValue] {
        let response = await RPCDispatcher(backend: backend).handle(body: Array(text.utf8))
        return try #require(response.body?.objectValue)
    }

    @Test func trackerAndLabelEditsReachTheBackend() async throws {
        let backend = ModelBackend()
        let answer = try await call(
            #"""
            {"method":"torrent-set","arguments":{"ids":[1],"trackerAdd":["udp://127.0.0.1:6969/announce"],
             "trackerRemove":[0],"trackerReplace":[1,"http://127.0.0.2/announce"],
             "trackerList":"http://a.example/announce\nhttp://b.example/announce\n\nudp://c.example:80\n",
             "labels":["films"," hd ","films"]}}
            """#, backend: backend)
        #expect(answer["result"] == "success")
        let changes = try #require(await backend.lastChanges)
        #expect(changes.trackerAdd == ["udp://127.0.0.1:6969/announce"])
        #expect(changes.trackerRemove == [0])
        #expect(changes.trackerReplace == [TrackerReplacement(id: 1, announce: "http://127.0.0.2/announce")])
        #expect(
            changes.trackerList == [
                ["http://a.example/announce", "http://b.example/announce"], ["udp://c.example:80"],
            ])
        #expect(changes.labels == ["films", "hd"])
        // The JSON-RPC 2.0 spelling (tracker_add, labels) is the same request.
        let snake = try await call(
            #"{"jsonrpc":"2.0","method":"torrent_set","params":{"ids":[2],"tracker_add":["http://x.example/a"]},"id":1}"#,
            backend: backend)
        #expect(snake["result"] != nil)
        #expect(await backend.lastChanges?.trackerAdd == ["http://x.example/a"])
    }

    @Test func locationRenameAndBlocklistReachTheBackend() async throws {
        let backend = ModelBackend()
        #expect(
            try await call(
                #"{"method":"torrent-set-location","arguments":{"ids":[2],"location":"/srv/new","move":true}}"#,
                backend: backend)["result"] == "success")
        let renamed = try await call(
            #"{"method":"torrent-rename-path","arguments":{"ids":[1],"path":"torrent 1/a","name":"b"}}"#,
            backend: backend)
        #expect(renamed["arguments"] == ["id": 1, "path": "torrent 1/a", "name": "b"])
        let blocklist = try await call(#"{"method":"blocklist-update"}"#, backend: backend)
        #expect(blocklist["arguments"] == ["blocklist-size": 42])
        #expect(
            try await call(
                #"{"method":"session-set","arguments":{"blocklist-url":"http://127.0.0.1/list.p2p","blocklist-enabled":true}}"#,
                backend: backend)["result"] == "success")
        #expect(await backend.lastSessionChanges?.blocklistURL == "http://127.0.0.1/list.p2p")
        #expect(await backend.lastSessionChanges?.blocklistEnabled == true)
        _ = try await call(
            #"{"method":"torrent-add","arguments":{"filename":"http://127.0.0.1:8000/a.torrent"}}"#, backend: backend)
        #expect(await backend.lastAdd?.source == .url("http://127.0.0.1:8000/a.torrent"))
        let calls = await backend.calls
        #expect(calls.contains("setLocation [2] /srv/new true"))
        #expect(calls.contains("renamePath 1 torrent 1/a b"))
        #expect(calls.contains("updateBlocklist"))
    }

    @Test(arguments: [
        #"{"method":"torrent-set","arguments":{"trackerAdd":["ftp://x.example/"]}}"#,
        #"{"method":"torrent-set","arguments":{"trackerAdd":"http://x.example/a"}}"#,
        #"{"method":"torrent-set","arguments":{"trackerRemove":[-1]}}"#,
        #"{"method":"torrent-set","arguments":{"trackerReplace":[1]}}"#,
        #"{"method":"torrent-set","arguments":{"trackerReplace":["http://x.example/a",1]}}"#,
        #"{"method":"torrent-set","arguments":{"trackerList":["http://x.example/a"]}}"#,
        #"{"method":"torrent-set","arguments":{"trackerList":"not a url"}}"#,
        #"{"method":"torrent-set","arguments":{"labels":["a,b"]}}"#,
        #"{"method":"torrent-set","arguments":{"labels":[""]}}"#,
        #"{"method":"torrent-set","arguments":{"labels":[7]}}"#,
        #"{"method":"torrent-set","arguments":{"location":"/srv"}}"#,
        #"{"method":"torrent-set-location","arguments":{"location":"relative"}}"#,
        #"{"method":"torrent-set-location","arguments":{"location":"/srv","move":"yes"}}"#,
        #"{"method":"torrent-rename-path","arguments":{"path":"a","name":"b"}}"#,
        #"{"method":"torrent-rename-path","arguments":{"ids":[1],"path":"a","name":"../b"}}"#,
        #"{"method":"torrent-rename-path","arguments":{"ids":[1],"path":"a","name":".."}}"#,
        #"{"method":"session-set","arguments":{"blocklist-url":"relative/list"}}"#,
        #"{"method":"session-set","arguments":{"blocklist-enabled":"on"}}"#,
    ])
    func absurdEditsAreRefusedWithoutSideEffects(request: String) async throws {
        let backend = ModelBackend()
        let answer = try await call(request, backend: backend)
        #expect(answer["result"] != "success")
        #expect(await backend.calls.filter { !$0.hasPrefix("snapshots") }.isEmpty)
        #expect(await backend.lastSessionChanges == nil)
    }

    @Test func trackerEditsComputeTheNewTiers() throws {
        let tiers = [["http://a/announce", "http://b/announce"], ["udp://c:1"]]
        var changes = TorrentChanges()
        #expect(try EngineBackend.trackerTiers(tiers, changes) == nil)
        changes.trackerAdd = ["http://d/announce", "udp://c:1"]
        #expect(
            try EngineBackend.trackerTiers(tiers, changes)
                == [["http://a/announce", "http://b/announce"], ["udp://c:1"], ["http://d/announce"]])
        changes = TorrentChanges()
        changes.trackerRemove = [1, 2]
        #expect(try EngineBackend.trackerTiers(tiers, changes) == [["http://a/announce"]])
        changes = TorrentChanges()
        changes.trackerReplace = [TrackerReplacement(id: 2, announce: "udp://e:2")]
        #expect(
            try EngineBackend.trackerTiers(tiers, changes) == [
                ["http://a/announce", "http://b/announce"], ["udp://e:2"],
            ])
        changes.trackerReplace = [TrackerReplacement(id: 3, announce: "udp://e:2")]
        #expect(throws: DaemonError.self) { try EngineBackend.trackerTiers(tiers, changes) }
        changes.trackerReplace = [TrackerReplacement(id: 0, announce: "udp://c:1")]
        #expect(throws: DaemonError.self) { try EngineBackend.trackerTiers(tiers, changes) }
        changes = TorrentChanges()
        changes.trackerList = [["http://z/announce"]]
        changes.trackerRemove = [0]
        #expect(try EngineBackend.trackerTiers(tiers, changes) == [])
    }
}
