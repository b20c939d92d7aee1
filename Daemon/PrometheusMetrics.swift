import CoreMetrics
import Foundation

/// A swift-metrics backend that keeps every counter, gauge, meter, recorder and timer the engine makes and
/// writes them in the Prometheus text exposition format (version 0.0.4) for the daemon's `GET /metrics`.
///
/// Give it to the engine as `BTEngine.ClientConfiguration.metricsFactory` and to the daemon in
/// ``Daemon/Settings/metrics``. Counters are `counter`s, gauges and meters `gauge`s (their last value),
/// recorders and timers `summary`s without quantiles (`_sum` and `_count`; timers in seconds). Names and label
/// names are reduced to Prometheus' alphabet, label values escaped. It stands in for swift-prometheus, which
/// is not a dependency of the package.
public final class PrometheusMetrics: MetricsFactory, @unchecked Sendable {
    /// What kind of series a cell is.
    enum Kind: String {
        case counter, gauge, summary
    }

    /// One series: a metric name, its labels and its value (all under the cell's own lock).
    final class Cell: CounterHandler, FloatingPointCounterHandler, RecorderHandler, MeterHandler, TimerHandler,
        @unchecked Sendable
    {
        let kind: Kind
        /// Timers record nanoseconds and report seconds.
        let scale: Double
        private let lock = NSLock()
        private var value: Double = 0
        private var count: Int64 = 0

        init(kind: Kind, scale: Double = 1) {
            self.kind = kind
            self.scale = scale
        }

        var reading: (value: Double, count: Int64) { lock.withLock { (value, count) } }

        func increment(by amount: Int64) { lock.withLock { value += Double(amount) } }
        func increment(by amount: Double) { lock.withLock { value += amount } }
        func decrement(by amount: Double) { lock.withLock { value -= amount } }
        func reset() { lock.withLock { value = 0 } }
        func set(_ newValue: Int64) { set(Double(newValue)) }
        func set(_ newValue: Double) { lock.withLock { value = newValue } }
        func record(_ sample: Int64) { record(Double(sample)) }
        func record(_ sample: Double) {
            lock.withLock {
                if kind == .summary {
                    value += sample * scale
                    count += 1
                } else {
                    value = sample
                }
            }
        }
        func recordNanoseconds(_ duration: Int64) { record(Double(duration)) }
    }

    private struct Key: Hashable {
        var name: String
        var labels: [String]
    }

    private let lock = NSLock()
    private var cells: [Key: Cell] = [:]

    /// An empty registry.
    public init() {}

    private func cell(_ label: String, _ dimensions: [(String, String)], _ make: () -> Cell) -> Cell {
        let labels = dimensions.map { "\(Self.name($0.0))=\"\(Self.escape($0.1))\"" }.sorted()
        let key = Key(name: Self.name(label), labels: labels)
        return lock.withLock {
            if let existing = cells[key] { return existing }
            let cell = make()
            cells[key] = cell
            return cell
        }
    }

    private func forget(_ handler: AnyObject) {
        lock.withLock { cells = cells.filter { $0.value !== handler } }
    }

    /// A counter.
    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        cell(label, dimensions) { Cell(kind: .counter) }
    }

    /// A floating-point counter.
    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)])
        -> any FloatingPointCounterHandler
    {
        cell(label, dimensions) { Cell(kind: .counter) }
    }

    /// A meter (a gauge that also goes up and down by steps).
    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        cell(label, dimensions) { Cell(kind: .gauge) }
    }

    /// A gauge (`aggregate` false) or a summary of recorded values.
    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        cell(label, dimensions) { Cell(kind: aggregate ? .summary : .gauge) }
    }

    /// A summary of durations, in seconds.
    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        cell(label, dimensions) { Cell(kind: .summary, scale: 1e-9) }
    }

    /// Forgets a counter.
    public func destroyCounter(_ handler: any CounterHandler) { forget(handler) }
    /// Forgets a floating-point counter.
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { forget(handler) }
    /// Forgets a meter.
    public func destroyMeter(_ handler: any MeterHandler) { forget(handler) }
    /// Forgets a recorder.
    public func destroyRecorder(_ handler: any RecorderHandler) { forget(handler) }
    /// Forgets a timer.
    public func destroyTimer(_ handler: any TimerHandler) { forget(handler) }

    /// Every series in the Prometheus text format: a `# TYPE` line per metric, then its samples, sorted by
    /// name and labels.
    public func exposition() -> String {
        let snapshot = lock.withLock { cells }
        var byName: [String: [(labels: [String], cell: Cell)]] = [:]
        for (key, cell) in snapshot { byName[key.name, default: []].append((key.labels, cell)) }
        var text = ""
        for name in byName.keys.sorted() {
            let series = byName[name]!.sorted { $0.labels.joined(separator: ",") < $1.labels.joined(separator: ",") }
            text += "# TYPE \(name) \(series[0].cell.kind.rawValue)\n"
            for (labels, cell) in series {
                let shown = labels.isEmpty ? "" : "{" + labels.joined(separator: ",") + "}"
                let reading = cell.reading
                if cell.kind == .summary {
                    text += "\(name)_sum\(shown) \(Self.number(reading.value))\n"
                    text += "\(name)_count\(shown) \(reading.count)\n"
                } else {
                    text += "\(name)\(shown) \(Self.number(reading.value))\n"
                }
            }
        }
        return text
    }

    /// A metric or label name in Prometheus' alphabet (`[a-zA-Z_:][a-zA-Z0-9_:]*`; labels without `:`).
    static func name(_ text: String) -> String {
        var result = ""
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            let isLetter = ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
            let isDigit = ("0"..."9").contains(scalar)
            result.unicodeScalars.append(isLetter || (isDigit && offset > 0) ? scalar : "_")
        }
        return result.isEmpty ? "_" : result
    }

    /// A label value with `\`, `"` and newlines escaped.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// A sample value: integers without a fraction, `+Inf`, `-Inf`, `NaN` as Prometheus spells them.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
