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
            return handshake
        }

        /// The name of the extension message we numbered `id` in our extension handshake (0 is never one).
        func extensionName(_ id: UInt8) -> String? {
            guard id != 0 else { return nil }
            return configuration.extensionHandshake.messages.first { $0.value == id }?.key
        }

        /// Appends `event` for observers; packet events only when the configuration asks for them.
        func report(_ event: PeerEvent, into actions: inout [PeerAction]) {
            if case .packet = event, !configuration.emitsPacketEvents { return }
            actions.append(.event(event))
        }
    }
}
