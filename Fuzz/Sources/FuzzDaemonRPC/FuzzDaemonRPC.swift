import BTDaemon
import Dispatch

/// The Transmission RPC request parser and dispatcher, and the HTTP gate's header checks: never crash; a
/// parsed request's arguments serialize and parse back to the same value; every answer to a legacy request
/// is an object with a `result` string.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let request = try? RPCRequest.parse(bytes) {
        let arguments = JSONValue.object(request.arguments)
        guard let again = try? JSONValue.parse(arguments.serialized), again == arguments else {
            fatalError("arguments do not survive serialization")
        }
    }
    let answer = UnsafeSendableBox<RPCResponse?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        answer.value = await RPCDispatcher(backend: FixedBackend()).handle(body: bytes)
        done.signal()
    }
    done.wait()
    guard let response = answer.value else { fatalError("no answer") }
    if case .legacy = response.form {
        guard response.body?.objectValue?["result"]?.stringValue != nil else { fatalError("answer without result") }
    }
    let text = String(decoding: bytes.prefix(512), as: UTF8.self)
    var configuration = RPCGate.Configuration()
    configuration.credentials = ("user", "password")
    _ = RPCGate(configuration: configuration, sessionID: "s").admit(
        host: text, authorization: text, sessionIDHeader: text, contentLength: size)
    return 0
}

/// A box written by one task and read after a semaphore (so no overlap).
final class UnsafeSendableBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// One torrent with two files, and actions that do nothing.
struct FixedBackend: DaemonBackend {
    func torrentIDs() async -> [(id: Int, hashString: String)] { [(1, String(repeating: "ab", count: 20))] }
    func snapshots(ids: [Int], detail: SnapshotDetail) async -> [TorrentSnapshot] {
        guard ids.contains(1) else { return [] }
        var snapshot = TorrentSnapshot(
            id: 1, hashString: String(repeating: "ab", count: 20), name: "t", activity: .seeding, totalSize: 10,
            sizeWhenDone: 10, leftUntilDone: 0, haveValid: 10, percentComplete: 1, percentDone: 1, downloadDir: "/d",
            pieceCount: 1, pieceSize: 16384, addedDate: 1)
        snapshot.files = [
            FileSnapshot(
                name: "t/a", length: 5, bytesCompleted: 5, wanted: true, priority: 0, beginPiece: 0, endPiece: 1),
            FileSnapshot(
                name: "t/b", length: 5, bytesCompleted: 5, wanted: true, priority: 0, beginPiece: 0, endPiece: 1),
        ]
        return [snapshot]
    }
    func add(_ request: AddTorrentRequest) async throws(DaemonError) -> AddTorrentOutcome {
        .added(id: 2, name: "n", hashString: String(repeating: "cd", count: 20))
    }
    func start(ids: [Int], now: Bool) async throws(DaemonError) {}
    func stop(ids: [Int]) async throws(DaemonError) {}
    func verify(ids: [Int]) async throws(DaemonError) {}
    func reannounce(ids: [Int]) async throws(DaemonError) {}
    func remove(ids: [Int], deleteData: Bool) async throws(DaemonError) {}
    func set(ids: [Int], _ changes: TorrentChanges) async throws(DaemonError) {}
    func setLocation(ids: [Int], location: String, move: Bool) async throws(DaemonError) {}
    func renamePath(id: Int, path: String, name: String) async throws(DaemonError) -> (path: String, name: String) {
        (path, name)
    }
    func updateBlocklist() async throws(DaemonError) -> Int { 0 }
    func session() async -> SessionSettings {
        SessionSettings(
            downloadDir: "/d", peerPort: 1, configDir: "/c", peerLimitPerTorrent: 1, peerLimitGlobal: 1,
            speedLimitDown: 100, speedLimitDownEnabled: false, speedLimitUp: 100, speedLimitUpEnabled: false,
            encryption: "tolerated", dhtEnabled: false, pexEnabled: false,
            utpEnabled: false, watchDir: nil, startAddedTorrents: true)
    }
    func setSession(_ changes: SessionChanges) async throws(DaemonError) {}
    func sessionStatistics() async -> SessionStatistics {
        SessionStatistics(
            torrentCount: 1, activeTorrentCount: 1, pausedTorrentCount: 0, downloadSpeed: 0, uploadSpeed: 0,
            downloadedBytes: 0, uploadedBytes: 0, filesAdded: 0, secondsActive: 0)
    }
    func freeSpace(at path: String) async throws(DaemonError) -> (free: Int64, total: Int64) { (1, 2) }
    func portTest() async -> Bool { false }
    func close() async {}
}
