import Testing

/// Bad values of the `nbt download` / `nbt seed` flags of issue 6 are one `nbt: error:` line naming the
/// flag and exit status 1, before any torrent is read or port bound.
@Test(
    arguments: [
        (["download", "x.torrent", "-o", "dl", "--seed", "--seed-ratio", "1"], "--seed and --seed-ratio"),
        (["download", "x.torrent", "-o", "dl", "--seed-ratio=-1"], "--seed-ratio"),
        (["download", "x.torrent", "-o", "dl", "--max-peers", "0"], "--max-peers"),
        (["download", "x.torrent", "-o", "dl", "--down-limit", "fast"], "--down-limit"),
        (["download", "x.torrent", "-o", "dl", "--up-limit", "0"], "--up-limit"),
        (["download", "x.torrent", "-o", "dl", "--port", "70000"], "--port"),
        (["download", "x.torrent", "-o", "dl", "--port", "9-3"], "--port"),
        (["download", "x.torrent", "-o", "dl", "--peer", "127.0.0.1"], "--peer"),
        (["seed", "x.torrent", "data", "--up-limit", "2X"], "--up-limit"),
        (["seed", "x.torrent", "data", "--port", "1-2-3"], "--port"),
    ])
func networkFlagRejectsBadValueWithOneLine(arguments: [String], flag: String) throws {
    let result = try NBTProcess.run(arguments, timeout: 60)
    #expect(result.status == 1, "\(arguments): exit \(result.status)")
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(arguments): \(result.stderr)")
    #expect(result.stderr.hasPrefix("nbt: error: \(flag)"), "\(arguments): \(result.stderr)")
    #expect(result.stdout.isEmpty)
}
