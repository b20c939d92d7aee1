import Testing

@testable import BTDaemon

/// The dispatcher answers each method as `docs/rpc-spec.md` says, in the request's form and spelling, and
/// answers bad requests with Transmission's error results instead of failing.
@Suite struct DispatcherAnswersLikeTransmission {
    func call(_ text: String, backend: ModelBackend = ModelBackend()) async throws -> [String: JSONValue] {
        let response = await RPCDispatcher(backend: backend).handle(body: Array(text.utf8))
        return try #require(response.body?.objectValue)
    }

    func arguments(_ answer: [String: JSONValue]) throws -> [String: JSONValue] {
        try #require(answer["arguments"]?.objectValue)
    }

    @Test func torrentGetReturnsTheRequestedFieldsUnderTheRequestedNames() async throws {
        let answer = try await call(
            #"{"method":"torrent-get","arguments":{"fields":["id","name","percentDone","hashString","nonsense"]},"tag":7}"#
        )
        #expect(answer["result"] == "success")
        #expect(answer["tag"] == 7)
        let torrents = try #require(try arguments(answer)["torrents"]?.arrayValue)
        #expect(torrents.count == 2)
        let first = try #require(torrents[0].objectValue)
        #expect(Set(first.keys) == ["id", "name", "percentDone", "hashString"])
        #expect(first["id"] == 1 && first["name"] == "torrent 1" && first["percentDone"] == .double(0.75))
    }

    @Test func tableFormatPutsTheKeysInTheFirstRow() async throws {
        let answer = try await call(
            #"{"method":"torrent-get","arguments":{"fields":["id","status"],"format":"table","ids":[2]}}"#)
        let rows = try #require(try arguments(answer)["torrents"]?.arrayValue)
        #expect(rows == [["id", "status"], [2, 4]])
    }

    @Test func filesWantedAndPrioritiesComeFromTheSnapshot() async throws {
        let answer = try await call(
            #"{"method":"torrent-get","arguments":{"ids":1,"fields":["files","fileStats","wanted","priorities"]}}"#)
        let torrent = try #require(try arguments(answer)["torrents"]?.arrayValue?.first?.objectValue)
        #expect(torrent["wanted"] == [1, 0])
        #expect(torrent["priorities"] == [0, 1])
        let files = try #require(torrent["files"]?.arrayValue)
        #expect(
            files[1] == ["name": "torrent 1/b", "length": 400, "bytesCompleted": 150, "beginPiece": 2, "endPiece": 4])
        #expect(torrent["fileStats"]?.arrayValue?[1] == ["bytesCompleted": 150, "wanted": false, "priority": 1])
    }

    @Test func idsResolveNumbersHashesAndRecentlyActive() async throws {
        let backend = ModelBackend()
        let dispatcher = RPCDispatcher(backend: backend)
        let hash2 = String(repeating: "2", count: 40)
        #expect(try await dispatcher.ids(["ids": .array([.string(hash2.uppercased()), 1, 99])]) == [2, 1])
        #expect(try await dispatcher.ids(["ids": 2]) == [2])
        #expect(try await dispatcher.ids(["ids": -5]) == [])
        #expect(try await dispatcher.ids([:]) == [1, 2])
        #expect(try await dispatcher.ids(["ids": "recently-active"]) == [1, 2])
        await #expect(throws: DaemonError.self) { try await dispatcher.ids(["ids": .array([.object([:])])]) }
        let answer = try await call(#"{"method":"torrent-get","arguments":{"ids":"recently-active","fields":["id"]}}"#)
        #expect(try arguments(answer)["removed"] == [])
    }

    @Test func actionsReachTheBackendWithTheirIds() async throws {
        let backend = ModelBackend()
        for method in ["torrent-start", "torrent-start-now", "torrent-stop", "torrent-verify", "torrent-reannounce"] {
            let answer = try await call(#"{"method":"\#(method)","arguments":{"ids":[1]}}"#, backend: backend)
            #expect(answer["result"] == "success")
        }
        _ = try await call(
            #"{"method":"torrent-remove","arguments":{"ids":[2],"delete-local-data":true}}"#, backend: backend)
        #expect(
            await backend.calls == [
                "start [1] false", "start [1] true", "stop [1]", "verify [1]", "reannounce [1]", "remove [2] true",
            ])
    }

    @Test func torrentSetConvertsLimitsAndFileSelections() async throws {
        let backend = ModelBackend()
        let answer = try await call(
            #"{"method":"torrent-set","arguments":{"ids":[1],"downloadLimit":100,"downloadLimited":true,"uploadLimited":false,"files-unwanted":[1],"priority-high":[],"peer-limit":30}}"#,
            backend: backend)
        #expect(answer["result"] == "success")
        let changes = try #require(await backend.lastChanges)
        #expect(changes.downloadLimit == 100 && changes.downloadLimited == true && changes.uploadLimited == false)
        #expect(changes.filesUnwanted == [1] && changes.priorityHigh == [] && changes.peerLimit == 30)
        #expect(changes.filesWanted == nil && changes.uploadLimit == nil)
    }

    @Test func torrentAddAnswersAddedOrDuplicate() async throws {
        let backend = ModelBackend()
        let added = try await call(
            #"{"method":"torrent-add","arguments":{"metainfo":"bmV3","paused":true,"download-dir":"/data"}}"#,
            backend: backend)
        #expect(
            try arguments(added)["torrent-added"] == [
                "id": 3, "name": "new", "hashString": .string(String(repeating: "c", count: 40)),
            ])
        let request = try #require(await backend.lastAdd)
        #expect(request.source == .metainfo(Array("new".utf8)) && request.paused && request.downloadDir == "/data")
        let duplicate = try await call(#"{"method":"torrent-add","arguments":{"metainfo":"ZHVw"}}"#, backend: backend)
        #expect(try arguments(duplicate)["torrent-duplicate"]?.objectValue?["id"] == 1)
        let magnet = try await call(
            #"{"method":"torrent-add","arguments":{"filename":"magnet:?xt=urn:btih:abc"}}"#, backend: backend)
        #expect(magnet["result"] == "success")
        #expect(await backend.lastAdd?.source == .magnet("magnet:?xt=urn:btih:abc"))
    }

    @Test(arguments: [
        (#"{"method":"torrent-add","arguments":{}}"#, "no filename or metainfo specified"),
        (#"{"method":"torrent-add","arguments":{"metainfo":"YmFk"}}"#, "invalid or corrupt torrent file"),
        (#"{"method":"torrent-add","arguments":{"filename":"relative.torrent"}}"#, "absolute path required"),
        (#"{"method":"torrent-get","arguments":{}}"#, "no fields specified"),
        (#"{"method":"torrent-frobnicate"}"#, "method name not recognized"),
        (#"{"arguments":{}}"#, "no method name"),
        (#"{"method":"free-space","arguments":{"path":"/nowhere"}}"#, "/nowhere: No such file or directory"),
    ])
    func badRequestsGetTransmissionsResultStrings(request: String, result: String) async throws {
        let answer = try await call(request)
        #expect(answer["result"] == .string(result))
        #expect(answer["arguments"] == [:])
    }

    @Test(arguments: [
        #"{"method":"torrent-set","arguments":{"downloadLimit":-1}}"#,
        #"{"method":"torrent-set","arguments":{"downloadLimit":1e300}}"#,
        #"{"method":"torrent-set","arguments":{"files-wanted":[-1]}}"#,
        #"{"method":"torrent-set","arguments":{"files-wanted":"all"}}"#,
        #"{"method":"torrent-set","arguments":{"peer-limit":0}}"#,
        #"{"method":"torrent-get","arguments":{"fields":[1,2]}}"#,
        #"{"method":"torrent-get","arguments":{"fields":["id"],"format":"csv"}}"#,
        #"{"method":"torrent-remove","arguments":{"delete-local-data":"yes"}}"#,
        #"{"method":"session-set","arguments":{"download-dir":"relative"}}"#,
        #"{"method":"torrent-get","arguments":{"fields":["id"],"ids":{"a":1}}}"#,
    ])
    func absurdArgumentsAreRefusedWithoutSideEffects(request: String) async throws {
        let backend = ModelBackend()
        let answer = try await call(request, backend: backend)
        #expect(answer["result"] != "success")
        #expect(await backend.calls.filter { !$0.hasPrefix("snapshots") }.isEmpty)
    }

    @Test func sessionMethodsAnswerInTheOriginalSpelling() async throws {
        let backend = ModelBackend()
        let session = try arguments(try await call(#"{"method":"session-get"}"#, backend: backend))
        #expect(session["download-dir"] == "/srv/downloads" && session["rpc-version"] == 17)
        #expect(session["speed-limit-up-enabled"] == true && session["speed-limit-down-enabled"] == false)
        let some = try arguments(
            try await call(#"{"method":"session-get","arguments":{"fields":["version","peer-port"]}}"#))
        #expect(Set(some.keys) == ["version", "peer-port"])
        _ = try await call(#"{"method":"session-set","arguments":{"download-dir":"/other"}}"#, backend: backend)
        #expect(await backend.downloadDir == "/other")
        _ = try await call(
            #"{"method":"session-set","arguments":{"speed-limit-down":2000,"speed-limit-down-enabled":true}}"#,
            backend: backend)
        let limits = try #require(await backend.lastSessionChanges)
        #expect(limits.speedLimitDown == 2000 && limits.speedLimitDownEnabled == true && limits.speedLimitUp == nil)
        let refused = try await call(#"{"method":"session-set","arguments":{"peer-port":1}}"#, backend: backend)
        #expect(refused["result"] != "success")
        let stats = try arguments(try await call(#"{"method":"session-stats"}"#))
        #expect(stats["torrentCount"] == 2 && stats["downloadSpeed"] == 1500)
        #expect(stats["current-stats"]?.objectValue?["secondsActive"] == 7)
        let space = try arguments(try await call(#"{"method":"free-space","arguments":{"path":"/srv"}}"#))
        #expect(space["size-bytes"] == 123 && space["total_size"] == 456)
        #expect(try arguments(try await call(#"{"method":"port-test"}"#))["port-is-open"] == false)
        _ = try await call(#"{"method":"session-close"}"#, backend: backend)
        #expect(await backend.closed)
    }

    @Test func jsonRPCRequestsGetJSONRPCAnswersInSnakeCase() async throws {
        let answer = try await call(
            #"{"jsonrpc":"2.0","method":"torrent_get","params":{"ids":[1],"fields":["hash_string","percent_done","file_stats"]},"id":"x1"}"#
        )
        #expect(answer["jsonrpc"] == "2.0" && answer["id"] == "x1")
        let torrent = try #require(answer["result"]?.objectValue?["torrents"]?.arrayValue?.first?.objectValue)
        #expect(torrent["hash_string"] == .string(String(repeating: "1", count: 40)))
        #expect(torrent["file_stats"]?.arrayValue?.first?.objectValue?["bytes_completed"] == 600)
        let unknown = try await call(#"{"jsonrpc":"2.0","method":"nope","id":2}"#)
        #expect(unknown["error"]?.objectValue?["code"] == -32601)
        let notification = await RPCDispatcher(backend: ModelBackend()).handle(
            body: Array(#"{"jsonrpc":"2.0","method":"session_stats"}"#.utf8))
        #expect(notification.body == nil)
    }
}
