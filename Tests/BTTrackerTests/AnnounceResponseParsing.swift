import BTBencode
import BTTracker
import Testing

private func parse(_ value: BencodeValue) throws -> AnnounceResponse {
    try HTTPTrackerProtocol.parseAnnounceResponse(value.encoded())
}

@Test func compactPeersAndPeers6AreDecoded() throws {
    let compact: [UInt8] = [10, 1, 2, 3, 0x1a, 0xe1, 192, 0, 2, 7, 0, 80, 9]  // trailing partial entry ignored
    let compact6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1, 0x1a, 0xe2]
    let response = try parse([
        "interval": 1800, "min interval": 60, "complete": 5, "incomplete": 7, "downloaded": 11,
        "peers": .bytes(compact[...]), "peers6": .bytes(compact6[...]), "warning message": "be nice",
        "tracker id": "abc",
    ])
    #expect(response.interval == 1800)
    #expect(response.minInterval == 60)
    #expect(response.complete == 5)
    #expect(response.incomplete == 7)
    #expect(response.downloaded == 11)
    #expect(response.warning == "be nice")
    #expect(response.trackerID == Array("abc".utf8))
    #expect(
        response.peers == [
            TrackerPeer(host: "10.1.2.3", port: 6881), TrackerPeer(host: "192.0.2.7", port: 80),
            TrackerPeer(host: "2001:db8::1", port: 6882),
        ])
}

@Test func dictionaryPeerListIsTheFallback() throws {
    let response = try parse([
        "interval": 900,
        "peers": [
            ["ip": "10.9.8.7", "port": 6881, "peer id": "PPPPPPPPPPPPPPPPPPPP"], ["ip": "::1", "port": 51413],
            ["ip": "bad-port", "port": 70000], ["port": 1], "not a dict",
        ],
    ])
    #expect(
        response.peers == [
            TrackerPeer(host: "10.9.8.7", port: 6881, peerID: Array("PPPPPPPPPPPPPPPPPPPP".utf8)),
            TrackerPeer(host: "::1", port: 51413),
        ])
}

@Test func failureReasonIsATypedError() {
    #expect(throws: TrackerError(.trackerFailure, "torrent not registered")) {
        try parse(["failure reason": "torrent not registered", "interval": 10])
    }
}

@Test(arguments: [
    Array("d8:intervali1800e5:peers12:abc".utf8), Array("li1ei2ee".utf8), [], Array("<html>".utf8),
    Array("d8:intervali-5ee".utf8), Array("d5:peersi3ee".utf8),
])
func malformedResponsesAreTypedErrors(body: [UInt8]) {
    #expect {
        try HTTPTrackerProtocol.parseAnnounceResponse(body)
    } throws: { error in
        (error as? TrackerError)?.code == .malformedResponse
    }
}

@Test func missingIntervalDefaultsAndHugeIntervalIsClamped() throws {
    #expect(try parse(["peers": ""]).interval == HTTPTrackerProtocol.defaultInterval)
    #expect(try parse(["interval": 999_999_999_999]).interval == HTTPTrackerProtocol.maxInterval)
}

@Test func unsortedKeysFromSloppyTrackersAreAccepted() throws {
    let response = try HTTPTrackerProtocol.parseAnnounceResponse(Array("d8:intervali5e5:peers0:8:completei1ee".utf8))
    #expect(response.interval == 5 && response.complete == 1)
}
