import ArgumentParser
import BTEngine
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Human formatting and the progress display shared by download, seed and demo.
enum TransferDisplay {
    /// Whether standard output is a terminal (live bar) rather than a file or pipe (plain lines).
    static let isTerminal = isatty(STDOUT_FILENO) == 1

    /// Whether a live line is on the terminal, not yet ended by a newline.
    private static let liveLine = SharedFlag()
    /// Whether `--json` asked for JSON lines instead of text.
    private static let jsonLines = SharedFlag()

    /// Switches standard output to JSON lines (`--json`): progress records and `{"message": ...}` lines.
    static func useJSON(_ enabled: Bool) { jsonLines.set(enabled) }

    /// Whether standard output carries JSON lines.
    static var isJSON: Bool { jsonLines.value }

    /// How often a plain (or JSON) progress line is printed when there is no live bar.
    static var plainInterval: Duration { isJSON ? .seconds(1) : .seconds(5) }

    /// Writes a line to standard output at once (unbuffered, so lines and the live progress stay in order),
    /// below the live line if one is shown.
    static func say(_ text: String) {
        if isJSON {
            write(json: ["message": text])
            return
        }
        endLine()
        output(Data((text.terminalSafe + "\n").utf8))
    }

    /// Writes `object` as one line of JSON with sorted keys.
    static func write(json object: [String: Any]) {
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        output(data + Data("\n".utf8))
    }

    /// The `--json` progress record of `status`: `eta` is null when unknown, rates are bytes per second.
    static func record(_ status: TorrentStatus) -> [String: Any] {
        var record: [String: Any] = [
            "name": status.handle.name, "state": status.state.rawValue,
            "percent": (percent(status) * 10).rounded() / 10, "downloadRate": status.downloadRate.rounded(),
            "uploadRate": status.uploadRate.rounded(), "peers": status.peers, "seeds": status.seeds,
            "eta": status.eta.map { Double($0.components.seconds) } ?? NSNull(),
            "downloadedBytes": status.downloadedBytes, "uploadedBytes": status.uploadedBytes,
            "ratio": (status.ratio * 1000).rounded() / 1000, "verifiedPieces": status.verifiedPieces,
            "pieceCount": status.pieceCount,
        ]
        if let metadata = status.metadataProgress {
            record["metadataPieces"] = metadata.received
            record["metadataPieceCount"] = metadata.total
        }
        if !status.webSeeds.isEmpty {
            // Only for a torrent with web seeds: how many are still in use, and what they delivered.
            record["webSeeds"] = usableWebSeeds(status)
            record["webSeedDownloadedBytes"] = status.webSeeds.reduce(Int64(0)) { $0 + $1.downloadedBytes }
        }
        return record
    }

    /// `value` bytes in binary units: `512 B`, `1.5 MiB`.
    static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = value
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    /// A duration as `m:ss` or `h:mm:ss`; `--:--` when unknown.
    static func duration(_ duration: Duration?) -> String {
        guard let duration else { return "--:--" }
        let seconds = Int(duration.components.seconds)
        if seconds >= 3600 { return String(format: "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60) }
        return String(format: "%d:%02d", seconds / 60, seconds % 60)
    }

    /// The percent shown for `status`: the hash check's progress while checking, the metadata pieces received
    /// while fetching a magnet's metadata, else the verified share.
    static func percent(_ status: TorrentStatus) -> Double {
        if status.state == .checking, let check = status.checkProgress { return check * 100 }
        if status.state == .fetchingMetadata {
            guard let metadata = status.metadataProgress, metadata.total > 0 else { return 0 }
            return Double(metadata.received) / Double(metadata.total) * 100
        }
        return status.progress * 100
    }

    /// The fields after the name and percent: state, down/up rates, peers, web seeds in use (for a torrent that
    /// has some, while it downloads), and ETA (ratio once complete).
    /// `compact` is for a narrow terminal: single spaces, without the seed count.
    static func fields(_ status: TorrentStatus, compact: Bool = false) -> String {
        let gap = compact ? " " : "  "
        if status.state == .fetchingMetadata {
            // `fetching metadata 3/12 pieces  peers 2`: no rates or ETA mean anything yet.
            let metadata = status.metadataProgress ?? MetadataProgress(received: 0, total: 0)
            let pieces = metadata.total > 0 ? " \(metadata.received)/\(metadata.total) pieces" : ""
            return "fetching metadata\(pieces)\(gap)peers \(status.peers)"
        }
        var text =
            "\(status.state.rawValue)\(gap)down \(bytes(status.downloadRate))/s\(gap)up \(bytes(status.uploadRate))/s"
            + "\(gap)peers \(status.peers)" + (compact ? "" : " (\(status.seeds) seeds)")
        if !status.webSeeds.isEmpty && !status.isComplete {
            text += "\(gap)web seeds \(usableWebSeeds(status))"
        }
        if status.isComplete {
            text += gap + String(format: "ratio %.2f", status.ratio)
        } else {
            text += gap + "ETA \(duration(status.eta))"
        }
        return text
    }

    /// Web seeds of `status` not given up on (failed ones are dropped for good).
    static func usableWebSeeds(_ status: TorrentStatus) -> Int {
        status.webSeeds.filter { $0.state != .failed }.count
    }

    /// The plain progress line printed every few seconds when standard output is not a terminal:
    /// `NAME  42.0% downloading  down 1.0 MiB/s  up 0 B/s  peers 1 (1 seeds)  ETA 0:03`.
    static func line(_ status: TorrentStatus) -> String {
        "\(status.handle.name.terminalSafe) " + String(format: "%5.1f%%", percent(status)) + " " + fields(status)
    }

    /// A bar of `width` cells (at least 1) filled to `fraction` (0...1): `[#####-----]`.
    static func bar(_ fraction: Double, width: Int) -> String {
        let width = max(1, width)
        let filled = Int((min(max(fraction, 0), 1) * Double(width)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
    }

    /// The live line on a terminal `columns` wide: name, percent, a bar, then ``fields(_:)``. It never
    /// exceeds `columns - 1` characters (a wrapped line could not be redrawn in place). It shrinks in steps
    /// until it fits: the bar from 24 to 10 cells; then ``fields(_:compact:)`` (compact) with the bar from 24 to 8
    /// cells; then the name is shortened (ending in `~`); then the end is cut.
    static func terminalLine(_ status: TorrentStatus, columns: Int) -> String {
        let limit = max(columns - 1, 10)
        let percentText = String(format: "%5.1f%%", percent(status))
        let fraction = percent(status) / 100
        func render(_ name: String, _ tail: String, _ width: Int) -> String {
            "\(name) \(percentText) \(bar(fraction, width: width)) \(tail)"
        }
        let name = status.handle.name.terminalSafe
        let full = fields(status)
        let compact = fields(status, compact: true)
        // Characters besides the bar cells: name, percent, tail, three spaces and the brackets.
        func room(_ name: String, _ tail: String) -> Int { limit - (name.count + percentText.count + tail.count + 5) }
        if room(name, full) >= 10 { return render(name, full, min(24, room(name, full))) }
        if room(name, compact) >= 8 { return render(name, compact, min(24, room(name, compact))) }
        var short = name
        let nameRoom = max(room("", compact) - 8, 4)
        if short.count > nameRoom { short = String(name.prefix(nameRoom - 1)) + "~" }
        let text = render(short, compact, 8)
        return text.count > limit ? String(text.prefix(limit)) : text
    }

    /// The terminal's width in columns (`COLUMNS`, else the window size, else 80).
    static func columns() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let value = Int(text), value > 0 {
            return value
        }
        return 80
    }

    /// Shows `status`: redraws the bar line in place on a terminal; otherwise prints a plain line when
    /// `plain` is set.
    static func show(_ status: TorrentStatus, plain: Bool) {
        if isJSON {
            if plain { write(json: record(status)) }
        } else if isTerminal {
            output(Data(("\r\u{1B}[2K" + terminalLine(status, columns: columns())).utf8))
            liveLine.set(true)
        } else if plain {
            TransferDisplay.say(line(status))
        }
    }

    /// Ends the live line on a terminal (when one is shown), so that it stays above what follows.
    static func endLine() {
        if isTerminal && !isJSON && liveLine.set(false) { output(Data("\n".utf8)) }
    }

    /// Writes `data` to standard output; a reader that went away (`nbt download ... | head`: EPIPE) loses
    /// the rest of the output instead of stopping the transfer with a trap.
    private static func output(_ data: Data) {
        try? FileHandle.standardOutput.write(contentsOf: data)
    }

    /// Prints `nbt: error: MESSAGE` on stderr and returns the exit code to throw.
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("nbt: error: \(message.terminalSafe)\n".utf8))
        return ExitCode.failure
    }
}

/// A Boolean shared between tasks (the progress loop, the hash-check display, the command's setup).
final class SharedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var state = false

    /// Sets the flag; returns its previous value.
    @discardableResult
    func set(_ newValue: Bool) -> Bool {
        lock.withLock {
            defer { state = newValue }
            return state
        }
    }

    /// The current value.
    var value: Bool { lock.withLock { state } }
}
