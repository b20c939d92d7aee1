import BTWire
import Collections

/// Peer addresses learnt from trackers and the user, waiting to be dialled, oldest first.
///
/// Bounded and with constant-time duplicate checks: a hostile or broken tracker can return hundreds of
/// thousands of compact peers in one answer (an 8 MiB body holds about 1.4 million), which must cost neither
/// unbounded memory nor a quadratic scan. Like libtorrent's `max_peerlist_size`, addresses past the cap are
/// dropped; addresses the user gives are always kept (they are few and asked for explicitly).
struct PeerCandidates {
    /// One address to dial.
    struct Candidate: Equatable {
        var host: String
        var port: Int
        var source: PeerSource
    }

    /// Most addresses kept (libtorrent's default `max_peerlist_size` is 3000).
    static let capacity = 3000

    private var queue: Deque<Candidate> = []
    private var keys: Set<String> = []

    /// Whether no address is waiting.
    var isEmpty: Bool { queue.isEmpty }

    /// Number of addresses waiting.
    var count: Int { queue.count }

    /// Adds an address unless it is already waiting or the list is full (user addresses are always added);
    /// returns whether it was added.
    @discardableResult
    mutating func append(_ candidate: Candidate) -> Bool {
        let key = Self.key(candidate.host, candidate.port)
        guard !keys.contains(key) else { return false }
        guard queue.count < Self.capacity || candidate.source == .user else { return false }
        keys.insert(key)
        queue.append(candidate)
        return true
    }

    /// Takes the oldest waiting address.
    mutating func removeFirst() -> Candidate {
        let candidate = queue.removeFirst()
        keys.remove(Self.key(candidate.host, candidate.port))
        return candidate
    }

    private static func key(_ host: String, _ port: Int) -> String { "\(host):\(port)" }
}
