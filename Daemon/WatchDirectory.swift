import Foundation
import Logging

/// A folder the daemon watches: a `.torrent` file (or a `.magnet` file holding a magnet URI) that appears
/// in it is added, then renamed with `.added` appended (`.invalid` when it could not be added), as
/// Transmission does. A file is taken only once its size stayed the same over two scans, so one still being
/// written is not read half-way.
public struct WatchDirectory: Sendable {
    /// The folder.
    public let path: String
    /// The sizes seen at the previous scan, by file name.
    private var previousSizes: [String: Int64] = [:]

    /// Watches `path`.
    public init(path: String) { self.path = path }

    /// Files whose size held since the previous scan and that are ready to be added; remembers the sizes
    /// of the others for the next scan.
    public mutating func scan() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        var sizes: [String: Int64] = [:]
        var ready: [String] = []
        for name in names.sorted() where name.hasSuffix(".torrent") || name.hasSuffix(".magnet") {
            let file = path + "/" + name
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
                attributes[.type] as? FileAttributeType == .typeRegular,
                let size = (attributes[.size] as? NSNumber)?.int64Value
            else { continue }
            if previousSizes[name] == size {
                ready.append(file)
            } else {
                sizes[name] = size
            }
        }
        previousSizes = sizes
        return ready
    }

    /// What to add for a ready file (nil when it cannot be read or is too large to be a torrent).
    public static func source(of file: String) -> TorrentSource? {
        guard let data = FileManager.default.contents(atPath: file), data.count <= 64 << 20 else { return nil }
        if file.hasSuffix(".magnet") {
            guard let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
                text.lowercased().hasPrefix("magnet:")
            else { return nil }
            return .magnet(text)
        }
        return .metainfo(Array(data))
    }

    /// Adds the ready files through `backend` and renames each (`.added` or `.invalid`).
    public mutating func addReady(to backend: any DaemonBackend, logger: Logger) async {
        for file in scan() {
            var suffix = ".invalid"
            if let source = Self.source(of: file) {
                do {
                    switch try await backend.add(AddTorrentRequest(source: source)) {
                    case .added(let id, let name, _): logger.info("watch dir: added \(name) as id \(id)")
                    case .duplicate(let id, let name, _): logger.info("watch dir: \(name) is already torrent \(id)")
                    }
                    suffix = ".added"
                } catch {
                    logger.warning("watch dir: cannot add \(file): \(error)")
                }
            } else {
                logger.warning("watch dir: cannot read \(file)")
            }
            try? FileManager.default.moveItem(atPath: file, toPath: file + suffix)
        }
    }
}
