import BTMetainfo
import NIOCore

extension PeerStateMachine {
    /// What is ours in every phase of a connection: the configuration, the pieces we have and want, and
    /// whether the choker chose the peer for an optimistic unchoke. Each state carries it to the next. (The
    /// peer's reputation and parole are not here: they belong to whoever judges pieces, in the client
    /// BTEngine's `ReputationLedger`, kept per address across connections.)
    struct Local: Sendable {
        /// The configuration in force (replaced once when a magnet's metadata arrives).
        var configuration: PeerConfiguration
        /// The pieces we have.
        var pieces: Bitfield
        /// The pieces we want (nil: all); always ``PeerConfiguration/pieceCount`` long when set.
        private(set) var wanted: Bitfield?
        /// The choker chose the peer for an optimistic unchoke.
        var isOptimisticUnchoke = false

        /// What a new connection starts from: the configured pieces and wants.
        init(configuration: PeerConfiguration) {
            self.configuration = configuration
            self.pieces = configuration.localPieces
            self.wanted = nil
            setWanted(configuration.wantedPieces)
        }

        /// Changes the pieces we want; a bitfield of the wrong length means every piece.
        mutating func setWanted(_ wanted: Bitfield?) {
            self.wanted = wanted?.count == configuration.pieceCount ? wanted : nil
        }

        /// We are a seed: we have every piece of a torrent that has pieces.
        var isSeed: Bool { pieces.count > 0 && pieces.isAllSet }

        /// The extension handshake we send: the configured one (its `m` names only the extensions the user of
        /// the machine answers: none by default, so a peer never waits on a `ut_metadata` request nobody
        /// serves), with our request queue length. Derived when needed rather than stored a second time in
        /// every connection.
        var extensionHandshake: ExtensionHandshake {
            var handshake = configuration.extensionHandshake
            handshake.requestQueueLength = configuration.maxServingQueue
            // The machine itself takes `lt_donthave` (libtorrent's; a partial seed's piece goes away).
            if let id = donthaveID { handshake.messages[ExtensionHandshake.Name.donthave] = id }
            // And libtorrent's `upload_only` message (one byte), which it sends when it becomes upload only.
            if let id = uploadOnlyID { handshake.messages[ExtensionHandshake.Name.uploadOnly] = id }
            // BEP 21: a seed, or a partial seed that wants nothing more, says it will only upload.
            if isUploadOnly { handshake.uploadOnly = true }
            return handshake
        }

        /// Our number for `lt_donthave`: libtorrent's 7 unless the configuration already numbers something 7.
        var donthaveID: UInt8? {
            let messages = configuration.extensionHandshake.messages
            if let id = messages[ExtensionHandshake.Name.donthave] { return id }
            return messages.values.contains(ExtensionHandshake.donthaveID) ? nil : ExtensionHandshake.donthaveID
        }

        /// Our number for libtorrent's `upload_only` message: 8 unless the configuration already numbers
        /// something 8.
        var uploadOnlyID: UInt8? {
            let messages = configuration.extensionHandshake.messages
            if let id = messages[ExtensionHandshake.Name.uploadOnly] { return id }
            return messages.values.contains(ExtensionHandshake.uploadOnlyID) ? nil : ExtensionHandshake.uploadOnlyID
        }

        /// We download nothing more (BEP 21 `upload_only`): a seed, or a partial seed that has every piece it
        /// wants (the others' files are skipped).
        var isUploadOnly: Bool {
            guard pieces.count > 0 else { return false }
            if pieces.isAllSet { return true }
            // Wanting nothing at all is not said: a super-seed shows no pieces and wants none, and, as
            // libtorrent, does not reveal itself as upload only.
            guard let wanted, wanted.count == pieces.count, !wanted.isNoneSet else { return false }
            return zip(wanted.bytes, pieces.bytes).allSatisfy { $0 & ~$1 == 0 }
        }

        /// The name of the extension message we numbered `id` in our extension handshake (0 is never one).
        func extensionName(_ id: UInt8) -> String? {
            guard id != 0 else { return nil }
            if let name = configuration.extensionHandshake.messages.first(where: { $0.value == id })?.key {
                return name
            }
            if id == donthaveID { return ExtensionHandshake.Name.donthave }
            return id == uploadOnlyID ? ExtensionHandshake.Name.uploadOnly : nil
        }

        /// Appends `event` for observers; packet events only when the configuration asks for them.
        func report(_ event: PeerEvent, into actions: inout [PeerAction]) {
            if case .packet = event, !configuration.emitsPacketEvents { return }
            actions.append(.event(event))
        }
    }
}
