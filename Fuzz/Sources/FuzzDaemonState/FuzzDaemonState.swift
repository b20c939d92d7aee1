import BTDaemon
@_spi(Fuzzing) import BTDaemon

/// The daemon's state files (`daemon-state.json` and its journal, read at every start; a kill or a full disk
/// can leave them cut or corrupt): the input is the snapshot, a NUL byte, then the journal (no NUL: no
/// snapshot). Never a crash; a snapshot that is not a state is an error; replaying the journal a second time
/// over the result changes nothing (`DaemonStateFiles.load` checks it: a kill between a compaction's snapshot
/// and the journal's truncation replays records the snapshot already holds).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let snapshot: [UInt8]?
    let journal: [UInt8]
    if let nul = bytes.firstIndex(of: 0) {
        snapshot = Array(bytes[..<nul])
        journal = Array(bytes[(nul + 1)...])
    } else {
        snapshot = nil
        journal = bytes
    }
    _ = try? DaemonStateFiles.load(snapshot: snapshot, journal: journal)
    return 0
}
