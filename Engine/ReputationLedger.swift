/// Per-address reputation, parole and blacklist bookkeeping (seed 001 "Reputation & Security").
///
/// A pure ledger: the engine feeds it the set of peers that contributed blocks to each piece when storage
/// reports `piece_hash_pass` or `piece_hash_fail` (``PiecePicker/pieceVerified(_:)`` and
/// ``PiecePicker/pieceFailed(_:)`` return those sets), and acts on what it returns.
///
/// Rules, from seed 001 and the seed 000 `on_parole` flag:
/// - every address starts at ``Configuration/initialScore`` (100);
/// - +1 for each verified piece it contributed to (no upper cap);
/// - −20 for each piece that failed the hash check it contributed to, and it is put on parole;
/// - a peer on parole leaves parole when it alone supplies a whole piece that verifies;
/// - at ``Configuration/blacklistThreshold`` (50) or below it is blacklisted for the session, and the engine
///   disconnects it with `DisconnectReason.blacklisted`.
public struct ReputationLedger<Address: Hashable & Sendable>: Sendable {
    /// Scores and bounds.
    public struct Configuration: Hashable, Sendable {
        /// Score of an address never seen before.
        public var initialScore = 100
        /// Added per verified piece the address contributed to.
        public var verifiedPieceBonus = 1
        /// Subtracted per failed piece the address contributed to.
        public var corruptPiecePenalty = 20
        /// At or below this score the address is blacklisted.
        public var blacklistThreshold = 50
        /// Most addresses remembered; when exceeded, the entries carrying the least information (not on
        /// parole, not blacklisted, highest score first) are forgotten. Blacklisted entries are kept.
        public var maximumEntries = 100_000

        /// The seed's defaults.
        public init() {}
    }

    /// What the engine should do after a hash report.
    public struct Update: Hashable, Sendable {
        /// Addresses that just crossed the blacklist threshold: disconnect them and refuse them from now on.
        public var newlyBlacklisted: Set<Address> = []
        /// Addresses that just went on parole: the picker gives them whole pieces only.
        public var enteredParole: Set<Address> = []
        /// Addresses that proved themselves and left parole.
        public var leftParole: Set<Address> = []
    }

    private struct Entry: Sendable {
        var score: Int
        var onParole = false
        var blacklisted = false
    }

    /// The configuration in force.
    public let configuration: Configuration
    private var entries: [Address: Entry] = [:]

    /// An empty ledger.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The current score of `address` (the initial score when unknown).
    public func score(of address: Address) -> Int { entries[address]?.score ?? configuration.initialScore }

    /// Whether `address` is on parole: it contributed to a piece that failed and has not yet supplied a whole
    /// good piece on its own.
    public func isOnParole(_ address: Address) -> Bool { entries[address]?.onParole ?? false }

    /// Whether `address` is blacklisted for the session.
    public func isBlacklisted(_ address: Address) -> Bool { entries[address]?.blacklisted ?? false }

    /// Addresses currently blacklisted.
    public var blacklisted: Set<Address> { Set(entries.filter { $0.value.blacklisted }.keys) }

    /// Number of addresses remembered.
    public var count: Int { entries.count }

    /// Records a piece that passed the hash check, supplied by `contributors`.
    public mutating func pieceVerified(contributors: Set<Address>) -> Update {
        var update = Update()
        for address in contributors {
            var entry = entries[address] ?? Entry(score: configuration.initialScore)
            entry.score += configuration.verifiedPieceBonus
            if entry.onParole && contributors.count == 1 {
                entry.onParole = false
                update.leftParole.insert(address)
            }
            entries[address] = entry
        }
        trim()
        return update
    }

    /// Records a piece that failed the hash check; every contributor is penalised and put on parole.
    public mutating func pieceFailed(contributors: Set<Address>) -> Update {
        var update = Update()
        for address in contributors {
            var entry = entries[address] ?? Entry(score: configuration.initialScore)
            entry.score -= configuration.corruptPiecePenalty
            if !entry.onParole {
                entry.onParole = true
                update.enteredParole.insert(address)
            }
            if !entry.blacklisted && entry.score <= configuration.blacklistThreshold {
                entry.blacklisted = true
                update.newlyBlacklisted.insert(address)
            }
            entries[address] = entry
        }
        trim()
        return update
    }

    /// Changes the score of `address` by `delta` (seed 001 `adjust_reputation`, by the user); at the
    /// threshold or below it is blacklisted.
    public mutating func adjust(_ address: Address, by delta: Int) -> Update {
        var update = Update()
        var entry = entries[address] ?? Entry(score: configuration.initialScore)
        entry.score += delta
        if !entry.blacklisted && entry.score <= configuration.blacklistThreshold {
            entry.blacklisted = true
            update.newlyBlacklisted.insert(address)
        }
        entries[address] = entry
        trim()
        return update
    }

    /// Forgets the least informative entries once the table is over its bound, so a long session with many
    /// short-lived peers stays bounded.
    private mutating func trim() {
        guard entries.count > configuration.maximumEntries else { return }
        let target = configuration.maximumEntries * 9 / 10
        let removable = entries.filter { !$0.value.onParole && !$0.value.blacklisted }
            .sorted { $0.value.score > $1.value.score }
        for (address, _) in removable.prefix(entries.count - target) { entries[address] = nil }
    }
}
