import Testing

/// `nbt download` takes a magnet link where it takes a .torrent path; a link that does not parse, and
/// `--skip-file` (which needs the file list a magnet does not have yet), are one `nbt: error:` line and exit
/// status 1, before any port is bound.
@Test(
    arguments: [
        (["download", "magnet:?xt=urn:btih:1234", "-o", "dl"], "not a valid magnet link"),
        (["download", "magnet:?dn=nothing", "-o", "dl"], "not a valid magnet link"),
        (
            [
                "download", "magnet:?xt=urn:btih:7528d016e0aeaa9affc301ca883e4a32d6dbb673", "-o", "dl", "--skip-file",
                "0",
            ],
            "--skip-file needs a .torrent file"
        ),
    ])
func downloadRefusesABadMagnetWithOneLine(arguments: [String], message: String) throws {
    let result = try NBTProcess.run(arguments, timeout: 60)
    #expect(result.status == 1, "\(arguments): exit \(result.status)")
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(arguments): \(result.stderr)")
    #expect(result.stderr.hasPrefix("nbt: error: \(message)"), "\(arguments): \(result.stderr)")
    #expect(result.stdout.isEmpty)
}
