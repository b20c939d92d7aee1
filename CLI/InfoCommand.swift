import ArgumentParser
import BTMetainfo
import Foundation

/// `nbt info FILE.torrent|MAGNET [--json]`: what a torrent file or magnet link describes.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show what a .torrent file or a magnet link describes.")

    @Argument(help: "A .torrent file, or a magnet link (quote it).")
    var source: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Flag(help: "List BEP 47 pad files too (hidden by default).")
    var showPadFiles = false

    func run() throws {
        do throws(MetainfoError) {
            if source.lowercased().hasPrefix("magnet:") {
                let magnet = try MagnetLink(parsing: source)
                print(json ? MetainfoReport.json(MetainfoReport.object(magnet)) : MetainfoReport.text(magnet))
            } else {
                let torrent = try Torrent(contentsOf: source)
                if json {
                    print(MetainfoReport.json(MetainfoReport.object(torrent)))
                } else {
                    print(MetainfoReport.text(torrent, showPadFiles: showPadFiles), terminator: "")
                }
            }
        } catch {
            throw MetainfoReport.fail("\(source): \(error.reason)")
        }
    }
}

/// Text and JSON renderings shared by `nbt info` and `nbt create`.
enum MetainfoReport {
    /// Prints `nbt: error: MESSAGE` on stderr and returns the exit code to throw.
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("nbt: error: \(message.terminalSafe)\n".utf8))
        return ExitCode.failure
    }

    static func hex(_ bytes: [UInt8]?) -> String? { bytes.map { InfoHashes.hex($0) } }

    static func size(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " \(units[unit]) (\(bytes) bytes)"
    }

    static func date(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    static func text(_ torrent: Torrent, showPadFiles: Bool) -> String {
        var out = ""
        func line(_ label: String, _ value: String) {
            out += label.padding(toLength: 14, withPad: " ", startingAt: 0) + value.terminalSafe + "\n"
        }
        line("Name:", torrent.name)
        if torrent.originalName != torrent.name { line("Given as:", quoted(torrent.originalName)) }
        line("Format:", torrent.version.rawValue)
        if let v1 = hex(torrent.infoHashes.v1) { line("Info-hash v1:", v1) }
        if let v2 = hex(torrent.infoHashes.v2) { line("Info-hash v2:", v2) }
        line("Size:", size(torrent.totalSize))
        line("Pieces:", "\(torrent.pieceCount) × \(size(Int64(torrent.pieceLength)))")
        line("Private:", torrent.isPrivate ? "yes" : "no")
        let missingLayers = torrent.filesMissingPieceLayers.count
        if missingLayers > 0 {
            line(
                "Piece layers:",
                "missing for \(missingLayers) file(s): "
                    + (torrent.version == .hybrid
                        ? "pieces are checked with the v1 hashes" : "cannot be downloaded or checked"))
        }
        if let comment = torrent.comment { line("Comment:", comment) }
        if let createdBy = torrent.createdBy { line("Created by:", createdBy) }
        if let seconds = torrent.creationDate { line("Created on:", date(seconds)) }
        if let source = torrent.source { line("Source:", source) }
        if torrent.announceTiers.isEmpty {
            line("Trackers:", "none")
        } else {
            out += "Trackers:\n"
            for (tier, urls) in torrent.announceTiers.enumerated() {
                for url in urls { out += "  tier \(tier): \(url.terminalSafe)\n" }
            }
        }
        if !torrent.webSeeds.isEmpty {
            out += "Web seeds:\n"
            for url in torrent.webSeeds { out += "  \(url.terminalSafe)\n" }
        }
        let pads = torrent.files.filter(\.isPadFile).count
        let listed = torrent.files.filter { showPadFiles || !$0.isPadFile }
        var heading = "Files (\(torrent.files.count - pads)"
        if pads > 0 { heading += showPadFiles ? ", \(pads) pad files marked [pad]" : ", \(pads) pad files hidden" }
        out += heading + "):\n"
        let width = String(listed.map(\.length).max() ?? 0).count
        for file in listed {
            let length = String(file.length)
            let padded = String(repeating: " ", count: max(0, width - length.count)) + length
            var entry =
                "  \(padded)  \(file.path.joined(separator: "/").terminalSafe)\(file.isPadFile ? " [pad]" : "")"
            // The name on disk differs from the torrent's (sanitized or made distinct): show both.
            if file.originalPath != file.path {
                entry += "  (given as \(quoted(file.originalPath.joined(separator: "/"))))"
            }
            out += entry + "\n"
        }
        return out
    }

    /// `text` in quotes with control characters escaped (a name from a torrent may hold terminal escapes).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22, 0x5C: out += "\\" + String(scalar)
            case 0..<0x20, 0x7F, 0x80...0x9F: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func text(_ magnet: MagnetLink) -> String {
        var lines = ["Magnet link"]
        func line(_ label: String, _ value: String) {
            lines.append(label.padding(toLength: 14, withPad: " ", startingAt: 0) + value.terminalSafe)
        }
        if let name = magnet.displayName { line("Name:", name) }
        if let v1 = hex(magnet.infoHashes.v1) { line("Info-hash v1:", v1) }
        if let v2 = hex(magnet.infoHashes.v2) { line("Info-hash v2:", v2) }
        for url in magnet.trackers { line("Tracker:", url) }
        for url in magnet.webSeeds { line("Web seed:", url) }
        for peer in magnet.peers { line("Peer:", peer.description) }
        if let selection = magnet.selectOnly {
            line(
                "Select only:",
                selection.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(
                    separator: ","))
        }
        return lines.joined(separator: "\n")
    }

    static func object(_ torrent: Torrent) -> [String: Any] {
        var object: [String: Any] = [
            "type": "torrent", "name": torrent.name, "originalName": torrent.originalName,
            "format": torrent.version.rawValue, "filesMissingPieceLayers": torrent.filesMissingPieceLayers.count,
            "infoHashV1": hex(torrent.infoHashes.v1) ?? NSNull(), "infoHashV2": hex(torrent.infoHashes.v2) ?? NSNull(),
            "totalSize": torrent.totalSize, "pieceLength": torrent.pieceLength, "pieceCount": torrent.pieceCount,
            "private": torrent.isPrivate, "trackers": torrent.announceTiers, "webSeeds": torrent.webSeeds,
            "comment": torrent.comment ?? NSNull(), "createdBy": torrent.createdBy ?? NSNull(),
            "creationDate": torrent.creationDate ?? NSNull(), "source": torrent.source ?? NSNull(),
            "magnet": MagnetLink(torrent).uri,
        ]
        object["files"] = torrent.files.map { file -> [String: Any] in
            var entry: [String: Any] = [
                "path": file.path.joined(separator: "/"), "length": file.length, "offset": file.offset,
                "pad": file.isPadFile,
            ]
            if file.originalPath != file.path { entry["originalPath"] = file.originalPath.joined(separator: "/") }
            if let root = hex(file.piecesRoot) { entry["piecesRoot"] = root }
            if !file.attributes.isEmpty { entry["attributes"] = file.attributes }
            return entry
        }
        return object
    }

    static func object(_ magnet: MagnetLink) -> [String: Any] {
        var object: [String: Any] = [
            "type": "magnet", "name": magnet.displayName ?? NSNull(),
            "infoHashV1": hex(magnet.infoHashes.v1) ?? NSNull(), "infoHashV2": hex(magnet.infoHashes.v2) ?? NSNull(),
            "trackers": magnet.trackers, "webSeeds": magnet.webSeeds, "peers": magnet.peers.map(\.description),
            "magnet": magnet.uri,
        ]
        if let selection = magnet.selectOnly {
            object["selectOnly"] = selection.map { [$0.lowerBound, $0.upperBound] }
        }
        return object
    }

    static func json(_ object: [String: Any]) -> String {
        let data =
            (try? JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
