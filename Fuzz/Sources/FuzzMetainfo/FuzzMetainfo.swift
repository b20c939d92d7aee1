import BTMetainfo

/// Parses arbitrary bytes as a .torrent file. Whatever parses must survive a round trip: our own encoding
/// of the parsed torrent parses to an equal torrent, and the layout invariants hold.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let torrent = try? Torrent(bytes: bytes) else { return 0 }
    let layout = torrent.layout
    var offset: Int64 = 0
    for file in torrent.files {
        precondition(file.offset == offset, "files are not contiguous")
        precondition(file.length >= 0 && !file.path.isEmpty)
        offset += file.length
    }
    precondition(layout.totalLength == offset)
    // Every name on disk is one that stays inside the download folder, and no two files share one.
    func safe(_ component: String) -> Bool {
        !component.isEmpty && component != "." && component != ".." && !component.contains("/")
            && !component.utf8.contains(0)
    }
    precondition(safe(torrent.name), "unsafe torrent name")
    var seen = Set<String>()
    for file in torrent.files where !file.isPadFile {
        precondition(file.path.allSatisfy(safe), "unsafe path \(file.path)")
        let full = (torrent.isSingleFile ? file.path : [torrent.name] + file.path).joined(separator: "/")
        precondition(seen.insert(full).inserted, "two files at \(full)")
    }
    if torrent.version != .v2 { precondition(torrent.pieceHashes.count == torrent.pieceCount * 20) }
    if torrent.version != .v1 {
        for file in torrent.files where !file.isPadFile && file.length > 0 {
            precondition(file.offset % Int64(torrent.pieceLength) == 0, "v2 file not aligned")
            precondition(file.piecesRoot?.count == 32)
        }
    }
    if torrent.pieceCount > 0 { _ = layout.slices(piece: torrent.pieceCount - 1) }
    let again: Torrent
    do {
        again = try Torrent(bytes: torrent.encoded())
    } catch {
        fatalError("our encoding of a parsed torrent does not parse: \(error)")
    }
    precondition(again == torrent, "re-parsed torrent differs")
    return 0
}
