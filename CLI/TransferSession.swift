import ArgumentParser
import BTEngine
import BTMetainfo
import BTStorage
import Foundation
import Logging

/// What `nbt download` transfers: a .torrent, or a magnet link whose metadata is fetched from peers.
enum TransferSource {
    /// A torrent read from a .torrent file.
    case torrent(Torrent)
    /// A magnet link (BEP 9).
    case magnet(MagnetLink)

    /// The name to show before the metadata is known.
    var name: String {
        switch self {
        case .torrent(let torrent): torrent.name
        case .magnet(let magnet): magnet.displayName ?? "\(magnet.infoHashes)"
        }
    }
}

/// The run loop of `nbt download` and `nbt seed`: one client, one torrent, progress until `stop` says so
/// or a signal arrives, then a clean shutdown.
enum TransferSession {
    /// Reads the .torrent file at `path`; an unreadable one is an `nbt: error:` line and exit status 1.
    static func load(_ path: String) throws -> Torrent {
        do {
            return try Torrent(contentsOf: path)
        } catch {
            throw TransferDisplay.fail("\(path): \(error.reason)")
        }
    }

    /// A magnet link (an argument starting with `magnet:`) or the .torrent file at `argument`; an invalid one
    /// is an `nbt: error:` line and exit status 1.
    static func loadSource(_ argument: String) throws -> TransferSource {
        guard argument.lowercased().hasPrefix("magnet:") else { return .torrent(try load(argument)) }
        do {
            return .magnet(try MagnetLink(parsing: argument))
        } catch {
            throw TransferDisplay.fail("not a valid magnet link: \(error.reason)")
        }
    }

    /// Where the resume data of a magnet downloaded to `directory` lives before its name is known:
    /// `DIR/.magnet.INFOHASH.resume` (its .torrent is kept beside it, `...resume.torrent`).
    static func resumePath(for magnet: MagnetLink, in directory: String) -> String {
        (directory as NSString).appendingPathComponent(".magnet.\(magnet.infoHashes).resume")
    }

    /// Writes `torrent` as a complete .torrent file to `path` (`--save-torrent`).
    static func save(_ torrent: Torrent, to path: String) throws {
        do {
            try Data(torrent.encoded()).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TransferDisplay.fail("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// Where the resume data of `torrent` downloaded to `directory` lives: `DIR/.NAME.INFOHASH.resume`.
    static func resumePath(for torrent: Torrent, in directory: String) -> String {
        let safeName = torrent.name.replacingOccurrences(of: "/", with: "_")
        return (directory as NSString).appendingPathComponent(".\(safeName).\(torrent.infoHashes).resume")
    }

    /// Whether every wanted piece is verified (all of them unless files are skipped).
    static func isFinished(_ status: TorrentStatus) -> Bool {
        status.isComplete || status.state == .seeding
    }

    /// Runs one torrent until `stop` says so or a signal arrives: adds it (hash check), connects to `peers`,
    /// shows progress, then shuts the client down (resume data written). Throws exit code 130 when a signal
    /// stopped it before every wanted piece was verified.
    static func run(
        torrent: Torrent, directory: String, configuration: ClientConfiguration, peers: [String], verb: String,
        requireComplete: Bool = false, recheck: Bool = false, filePriorities: [FilePriority]? = nil,
        stop: @escaping (TorrentStatus) -> Bool
    ) async throws {
        try await run(
            source: .torrent(torrent), directory: directory, configuration: configuration, peers: peers, verb: verb,
            requireComplete: requireComplete, recheck: recheck, filePriorities: filePriorities, stop: stop)
    }

    /// Runs a torrent or a magnet (see ``run(torrent:directory:configuration:peers:verb:requireComplete:recheck:filePriorities:stop:)``);
    /// a magnet shows its metadata fetch first. With `saveTorrent`, the complete .torrent is written there as
    /// soon as the metadata is known.
    static func run(
        source: TransferSource, directory: String, configuration: ClientConfiguration, peers: [String], verb: String,
        requireComplete: Bool = false, recheck: Bool = false, filePriorities: [FilePriority]? = nil,
        saveTorrent: String? = nil, stop: @escaping (TorrentStatus) -> Bool
    ) async throws {
        let signals = StopSignal()
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TransferDisplay.fail("cannot create \(directory): \(error.localizedDescription)")
        }
        let client: Client
        do {
            client = try await Client(configuration: configuration)
        } catch {
            throw TransferDisplay.fail(error.reason)
        }
        if configuration.logger.logLevel <= .debug {
            // A machine-readable trace of the order pieces pass their hash check (`--sequential` is tested on it).
            let logger = configuration.logger
            client.events.on(.pieceHashPass) { event in
                if case .pieceHashPass(_, let index) = event {
                    logger.debug("piece verified", metadata: ["piece": "\(index)"])
                }
            }
        }
        let handle: TorrentHandle
        switch await addAndCheck(
            source, directory: directory, client: client, recheck: recheck, filePriorities: filePriorities,
            signals: signals)
        {
        case .success(let added):
            handle = added
        case .failure(let error):
            TransferDisplay.endLine()
            await client.shutdown()
            if signals.isRaised {
                TransferDisplay.say("stopped during the hash check; resume data not updated")
                throw ExitCode(130)
            }
            throw TransferDisplay.fail(error.reason)
        }
        let start = ContinuousClock.now
        let initial = await client.status(of: handle)
        if requireComplete, let initial, !initial.isComplete {
            TransferDisplay.say(
                "nbt: warning: only \(initial.verifiedPieces) of \(initial.pieceCount) pieces verified in \(directory); "
                    + "seeding those and downloading the rest")
        } else if !requireComplete, let initial, initial.verifiedPieces > 0, !isFinished(initial) {
            TransferDisplay.say(
                "resuming: \(initial.verifiedPieces)/\(initial.pieceCount) pieces already verified "
                    + "(\(TransferDisplay.bytes(Double(initial.verifiedBytes))))")
        }
        var torrent = await client.torrent(of: handle)
        if let torrent {
            TransferDisplay.say(
                "\(verb) \(torrent.name) (\(TransferDisplay.bytes(Double(torrent.totalSize)))) in \(directory), "
                    + "listening on \(client.host):\(client.port)")
            if let saveTorrent { try save(torrent, to: saveTorrent) }
        } else {
            TransferDisplay.say(
                "fetching the metadata of \(source.name) from peers, for \(directory), "
                    + "listening on \(client.host):\(client.port)")
        }
        var name = torrent?.name ?? source.name
        for peer in peers {
            let endpoint = try NetworkOptions.endpoint(peer)
            try? await client.connect(host: endpoint.host, port: endpoint.port, for: handle)
        }
        var wasComplete = initial.map(isFinished) ?? false
        var lastPlain = ContinuousClock.now - .seconds(60)
        var interrupted = false
        while true {
            guard let status = await client.status(of: handle) else { break }
            if torrent == nil, status.state != .fetchingMetadata, let known = await client.torrent(of: handle) {
                torrent = known
                name = known.name
                TransferDisplay.endLine()
                TransferDisplay.say(
                    "metadata received: \(known.name) (\(TransferDisplay.bytes(Double(known.totalSize))), "
                        + "\(known.layout.pieceCount) pieces)")
                if let saveTorrent {
                    do {
                        try save(known, to: saveTorrent)
                    } catch {
                        await client.shutdown()
                        throw error
                    }
                    TransferDisplay.say("saved the torrent to \(saveTorrent)")
                }
            }
            let now = ContinuousClock.now
            let plain = now - lastPlain >= TransferDisplay.plainInterval
            if plain { lastPlain = now }
            if status.state == .failed {
                TransferDisplay.endLine()
                await client.shutdown()
                throw TransferDisplay.fail("\(name): \(status.error ?? "storage failed")")
            }
            if isFinished(status) && !wasComplete {
                wasComplete = true
                TransferDisplay.show(status, plain: true)
                TransferDisplay.endLine()
                let elapsed = ContinuousClock.now - start
                let seconds = max(
                    Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, 0.001)
                TransferDisplay.say(
                    "\(name): complete, \(TransferDisplay.bytes(Double(status.downloadedBytes))) in "
                        + String(format: "%.2f", seconds)
                        + " s (\(TransferDisplay.bytes(Double(status.downloadedBytes) / seconds))/s)")
            } else {
                TransferDisplay.show(status, plain: plain)
            }
            if stop(status) { break }
            if signals.isRaised {
                interrupted = !isFinished(status)
                break
            }
            // Short, so the completion line (and the exit of a plain download) follows the last piece closely.
            try? await Task.sleep(for: .milliseconds(100))
        }
        TransferDisplay.endLine()
        let final = await client.status(of: handle)
        await client.shutdown()
        if let final, final.state == .fetchingMetadata {
            let metadata = final.metadataProgress.map { " (\($0.received)/\($0.total) metadata pieces)" } ?? ""
            TransferDisplay.say("stopped before the metadata arrived\(metadata); nothing written")
        } else if let final {
            TransferDisplay.say(
                "stopped: \(final.verifiedPieces)/\(final.pieceCount) pieces, downloaded "
                    + "\(TransferDisplay.bytes(Double(final.downloadedBytes))), uploaded "
                    + "\(TransferDisplay.bytes(Double(final.uploadedBytes))); resume data written")
        }
        if interrupted { throw ExitCode(130) }
    }

    /// Adds the torrent (hash-checking existing data) and, with `recheck`, checks every piece again, while
    /// showing the check's progress; a SIGINT or SIGTERM meanwhile cancels the check.
    static func addAndCheck(
        _ source: TransferSource, directory: String, client: Client, recheck: Bool, filePriorities: [FilePriority]?,
        signals: StopSignal
    ) async -> Result<TorrentHandle, EngineError> {
        let adding = Task { () async -> Result<TorrentHandle, EngineError> in
            do throws(EngineError) {
                let handle: TorrentHandle
                switch source {
                case .torrent(let torrent):
                    handle = try await client.addTorrent(
                        torrent, downloadDirectory: directory, resume: resumePath(for: torrent, in: directory),
                        filePriorities: filePriorities)
                case .magnet(let magnet):
                    handle = try await client.addTorrent(
                        magnet: magnet, downloadDirectory: directory, resume: resumePath(for: magnet, in: directory))
                }
                if recheck { try await client.recheck(handle) }
                return .success(handle)
            } catch {
                return .failure(error)
            }
        }
        let watching = Task {
            var lastPlain = ContinuousClock.now - .seconds(60)
            while !Task.isCancelled {
                if signals.isRaised {
                    adding.cancel()
                    return
                }
                if let status = await client.statuses().first, status.state == .checking {
                    let plain = ContinuousClock.now - lastPlain >= TransferDisplay.plainInterval
                    if plain { lastPlain = ContinuousClock.now }
                    TransferDisplay.show(status, plain: plain)
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let result = await adding.value
        watching.cancel()
        await watching.value
        return result
    }
}
