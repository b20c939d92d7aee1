import BTTracker
import BTWire
import Collections

/// Peer addresses learnt from trackers and the user, waiting to be dialled.
///
/// Bounded and with constant-time duplicate checks: a hostile or broken tracker can return hundreds of
/// thousands of compact peers in one answer (a 1 MiB body, the response limit, holds 174,762), which must cost
/// neither unbounded memory nor a quadratic scan, and must not hide an honest peer it lists last.
///
/// Three tiers, dialled in this order:
/// - the **queue**: up to ``capacity`` addresses (libtorrent's `max_peerlist_size`), oldest first; addresses
///   the user gives always get in (they are few and asked for explicitly);
/// - the **reserve**: addresses that came while the queue was full, up to ``reserveCapacity``, taken in random
///   order once the queue is empty. When it is full, a newcomer replaces a random entry with the probability
///   that keeps the reserve a uniform sample of everything that overflowed (reservoir sampling), so a peer
///   at the end of a 40,000-peer answer has the same chance as one at its start, and all get in below the cap;
/// - the **retries**: addresses handed out for dialling recently (the last ``recentCapacity``) that come back
///   (a failed dial's redial), up to ``capacity``: dialled only when nothing untried is waiting, as libtorrent
///   prefers peers that have not failed (`peer_list::compare_peer`). The user's addresses are not deferred.
///
/// Memory: at most `capacity + reserveCapacity + capacity` candidates and `recentCapacity` keys, about 80
/// bytes each for an IPv4 address (host text inline): under 7 MiB per torrent whatever trackers send.
struct PeerCandidates {
    /// One address to dial.
    struct Candidate: Equatable {
        var host: String
        var port: Int
        var source: PeerSource
    }

    /// Most addresses in the queue (libtorrent's default `max_peerlist_size` is 3000).
    static let capacity = 3000
    /// Most addresses in the reserve (a 40,000-peer answer fits whole; larger ones are sampled).
    static let reserveCapacity = 65_536
    /// How many recently dialled addresses are remembered to tell a retry from a new address (more than
    /// ``PeerRedials/capacity``).
    static let recentCapacity = 4096

    private struct Key: Hashable {
        var host: String
        var port: Int
    }

    private var queue: Deque<Candidate> = []
    private var reserve: [Candidate] = []
    private var retries: Deque<Candidate> = []
    /// Addresses waiting in any tier.
    private var keys: Set<Key> = []
    /// Addresses that overflowed into the reserve since it was last empty (the reservoir's stream length).
    private var overflowed = 0
    private var recent: Deque<Key> = []
    private var recentKeys: Set<Key> = []
    private var random: TrackerRandom

    /// An empty list; `random` draws from the reserve (tests pass a seeded one).
    init(random: TrackerRandom = TrackerRandom()) { self.random = random }

    /// Whether no address is waiting in any tier.
    var isEmpty: Bool { queue.isEmpty && reserve.isEmpty && retries.isEmpty }

    /// Number of addresses in the queue and the retries (the reserve is ``reserved``).
    var count: Int { queue.count + retries.count }

    /// Number of addresses set aside in the reserve.
    var reserved: Int { reserve.count }

    /// Adds an address unless it is already waiting. Returns whether it joined the queue or the retries;
    /// false for a duplicate, an address set aside in the reserve (it is dialled later, see the type's
    /// comment) or one dropped because every tier it could join is full.
    @discardableResult
    mutating func append(_ candidate: Candidate) -> Bool {
        let key = Key(host: candidate.host, port: candidate.port)
        guard !keys.contains(key) else { return false }
        if candidate.source != .user && recentKeys.contains(key) {
            guard retries.count < Self.capacity else { return false }
            keys.insert(key)
            retries.append(candidate)
            return true
        }
        if queue.count < Self.capacity || candidate.source == .user {
            keys.insert(key)
            queue.append(candidate)
            return true
        }
        overflowed += 1
        if reserve.count < Self.reserveCapacity {
            keys.insert(key)
            reserve.append(candidate)
        } else {
            // Algorithm R: the newcomer stays with probability reserveCapacity / overflowed.
            let slot = Int(random.next(upperBound: UInt64(overflowed)))
            if slot < Self.reserveCapacity {
                keys.remove(Key(host: reserve[slot].host, port: reserve[slot].port))
                keys.insert(key)
                reserve[slot] = candidate
            }
        }
        return false
    }

    /// Takes the next address to dial: the oldest of the queue, else a random one of the reserve, else the
    /// oldest retry. The list must not be empty.
    mutating func removeFirst() -> Candidate {
        let candidate: Candidate
        if !queue.isEmpty {
            candidate = queue.removeFirst()
        } else if !reserve.isEmpty {
            let index = Int(random.next(upperBound: UInt64(reserve.count)))
            reserve.swapAt(index, reserve.count - 1)
            candidate = reserve.removeLast()
            if reserve.isEmpty { overflowed = 0 }
        } else {
            candidate = retries.removeFirst()
        }
        let key = Key(host: candidate.host, port: candidate.port)
        keys.remove(key)
        if recentKeys.insert(key).inserted {
            recent.append(key)
            if recent.count > Self.recentCapacity { recentKeys.remove(recent.removeFirst()) }
        }
        return candidate
    }
}
