import BTDHT
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a `/proc/self/status` field in kB (VmRSS, VmHWM); 0 where there is no /proc.
func statusKilobytes(_ field: String) -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, file) != nil {
        let text = String(cString: line)
        if text.hasPrefix(field + ":") {
            return Int(String(text.dropFirst(field.count + 1).filter(\.isNumber))) ?? 0
        }
    }
    return 0
}

func argument(_ name: String, _ fallback: Int) -> Int {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return fallback }
    return v
}

let nodes = argument("--nodes", 10_000)
let lookups = argument("--lookups", 500)
let seed = UInt64(argument("--seed", 1))
let lossPermille = argument("--loss-permille", 10)
let churnPercent = argument("--churn-percent", 20)
let enforce = argument("--enforce-bep42", 0) != 0

if argument("--sybil", 0) != 0 {
    // The poisoning scenario: attackers with ids next to one info-hash, BEP 42 enforcement off then on.
    for enforce in [false, true] {
        var network = DHTSimulation.Configuration(seed: seed, lossRate: Double(lossPermille) / 1000)
        network.node.routingTable.enforceSecureIDs = enforce
        let report = DHTSybilScenario(
            nodeCount: nodes, sybils: argument("--sybils", 64), contactsPerSybil: 200, lookups: lookups,
            network: network
        ).run()
        print("sybil attack, \(nodes) honest nodes, BEP 42 enforced: \(enforce): \(report)")
    }
    exit(0)
}

var network = DHTSimulation.Configuration(seed: seed, lossRate: Double(lossPermille) / 1000)
network.node.routingTable.enforceSecureIDs = enforce
// Lookup and table tuning, to compare settings side by side on the same seed.
network.node.alpha = argument("--alpha", network.node.alpha)
network.node.confirmationPings = argument("--confirm-pings", network.node.confirmationPings)
network.node.slowQueryAfter = .milliseconds(Int64(argument("--slow-ms", 1000)))
network.node.aggressiveLookups = argument("--aggressive", network.node.aggressiveLookups ? 1 : 0) != 0
network.node.nodesWithPeers = argument("--nodes-with-peers", network.node.nodesWithPeers ? 1 : 0) != 0
network.node.confirmationRefreshesBucket =
    argument("--refresh-bucket", network.node.confirmationRefreshesBucket ? 1 : 0) != 0
network.secureIDs = argument("--secure-ids", 1) != 0
var scenario = DHTSimulationScenario(
    nodeCount: nodes, torrents: 50, lookups: lookups, churn: Double(churnPercent) / 100,
    lookupPhase: .seconds(300), network: network)

scenario.refreshAfterJoin = argument("--refresh", 0) != 0
scenario.settle = .seconds(Int64(argument("--settle-s", 60)))
let baseline = statusKilobytes("VmRSS")
var clockStart = timespec()
clock_gettime(CLOCK_MONOTONIC, &clockStart)
let report = scenario.run()
var clockEnd = timespec()
clock_gettime(CLOCK_MONOTONIC, &clockEnd)
let wall = Double(clockEnd.tv_sec - clockStart.tv_sec) + Double(clockEnd.tv_nsec - clockStart.tv_nsec) / 1e9
let peak = statusKilobytes("VmHWM")
let alive = nodes + report.churned
print(
    "nodes \(nodes) (+\(report.churned) joined, \(report.churned) left), loss \(lossPermille) ‰, seed \(seed), BEP 42 enforced: \(enforce)"
)
print(report)
print(
    "memory: peak RSS \(peak / 1024) MiB, baseline \(baseline / 1024) MiB, \((peak - baseline) * 1024 / max(1, alive)) bytes per node created (upper bound: includes the network's queues)"
)
print("wall time \(Int(wall)) s")
