import BTMetainfo
import NIOCore

extension PeerStateMachine {
    /// What is ours in every phase of a connection: the configuration, the pieces we have and want, and our
    /// verdict on the peer (reputation, parole, optimistic unchoke). Each state carries it to the next.
    struct Local: Sendable {
        /// The configuration in force (replaced once when a magnet's metadata arrives).
        var configuration: PeerConfiguration
        /// The pieces we have.
        var pieces: Bitfield
        /// The pieces we want (nil: all); always ``PeerConfiguration/pieceCount`` long when set.
        private(set) var wanted: Bitfield?
        /// Starts at 100, +1 per verified piece, -20 per corrupt piece (seed 001).
        private(set) var reputation = 100
        /// The reputation fell to 50 or below.
        private(set) var isBlacklisted = false
        /// The peer took part in a corrupt piece and gets whole pieces only until it proves itself.
        var isOnParole = false
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

        /// Changes the reputation by `delta` (seed 001); at 50 or below the peer is blacklisted and the
        /// connection ends with ``DisconnectReason/reputation``.
        mutating func adjustReputation(_ delta: Int, detail: String, into actions: inout [PeerAction]) throws(Closing) {
            reputation += delta
            report(.reputation(reputation), into: &actions)
            guard reputation <= 50 else { return }
            isBlacklisted = true
            report(.blacklisted, into: &actions)
            throw Closing(.reputation, "\(detail): reputation \(reputation)")
        }
    }
}
