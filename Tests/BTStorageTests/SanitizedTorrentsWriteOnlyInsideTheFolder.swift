import BTMetainfo
import BTStorage
import Foundation
import Testing

/// libtorrent's test torrents with hostile names (`..`, `/`, `\`, absolute paths, empty elements, duplicates,
/// invalid UTF-8, a name of `..`), opened with their sanitized names: writing every file of each through
/// ``FileStorage`` creates exactly the torrent's files, all inside the download folder, and nothing beside it.
struct SanitizedTorrentsWriteOnlyInsideTheFolder {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../BTMetainfoTests/Fixtures/libtorrent").standardized

    static let hostile = [
        "absolute_filename.torrent", "backslash_path.torrent", "duplicate_files.torrent", "empty_path.torrent",
        "empty_path_multi.torrent", "hidden_parent_path.torrent", "invalid_directory_name.torrent",
        "invalid_filename.torrent", "invalid_filename2.torrent", "invalid_name2.torrent", "invalid_name3.torrent",
        "long_name.torrent", "pad_file_no_path.torrent", "parent_path.torrent", "slash_path.torrent",
        "slash_path2.torrent", "slash_path3.torrent", "symlink_filtered_path.torrent", "symlink_zero_size.torrent",
        "v2_invalid_filename.torrent", "v2_invalid_filename2.torrent",
    ]

    /// Every regular file below `folder`, as paths relative to it.
    static func filesBelow(_ folder: String) -> Set<String> {
        var result = Set<String>()
        let enumerator = FileManager.default.enumerator(atPath: folder)
        while let relative = enumerator?.nextObject() as? String {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + relative, isDirectory: &isFolder),
                !isFolder.boolValue
            {
                result.insert(relative)
            }
        }
        return result
    }

    @Test(arguments: hostile)
    func everyFileLandsInsideTheDownloadFolder(file: String) throws {
        let torrent = try Torrent(contentsOf: Self.corpus.appendingPathComponent(file).path)
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let download = folder.path + "/outer/download"
        try FileManager.default.createDirectory(atPath: download, withIntermediateDirectories: true)
        let storage = FileStorage(torrent: torrent, folder: download)
        var expected = Set<String>()
        for (index, entry) in torrent.files.enumerated() where !entry.isPadFile {
            let bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: index + 1), count: Int(min(entry.length, 64)))
            if bytes.isEmpty {
                try storage.createFile(index)
            } else {
                try bytes.withUnsafeBytes { try storage.write(file: index, offset: 0, from: $0) }
            }
            expected.insert(FileStorage.paths(of: torrent)[index].joined(separator: "/"))
            let absolute = try storage.absolutePath(ofFile: index)
            #expect(absolute.hasPrefix((SafePathProbe.real(download) ?? download) + "/"), "\(file): \(absolute)")
        }
        storage.closeFiles()
        // Exactly the torrent's files, each once (duplicates were given their own names), and nothing else.
        #expect(Self.filesBelow(download) == expected, "\(file)")
        #expect(Self.filesBelow(folder.path + "/outer").count == expected.count)
        #expect(Self.filesBelow(folder.path).count == expected.count)
    }
}

/// The canonical form of a folder, for comparing with what ``FileStorage`` resolves.
enum SafePathProbe {
    static func real(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
