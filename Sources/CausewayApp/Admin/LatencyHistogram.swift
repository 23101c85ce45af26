/// A Prometheus histogram of durations: cumulative counts per upper bound, a sum and a
/// count. A value, so a copy can be handed to the admin thread.
struct LatencyHistogram: Sendable {
    /// Upper bounds, seconds: 1 ms to 5 s, for probes that time out at a few seconds.
    static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    /// Observations at or below each bound (not cumulative; rendering sums them).
    private(set) var buckets = [UInt64](repeating: 0, count: bounds.count)
    private(set) var count: UInt64 = 0
    private(set) var sumSeconds: Double = 0

    mutating func observe(nanos: UInt64) {
        let seconds = Double(nanos) / 1e9
        count += 1
        sumSeconds += seconds
        if let i = Self.bounds.firstIndex(where: { seconds <= $0 }) { buckets[i] += 1 }
    }

    /// The series lines of one histogram named `name` with `labels` (without braces).
    func render(_ name: String, labels: String) -> String {
        var out = ""
        var cumulative: UInt64 = 0
        for (i, bound) in Self.bounds.enumerated() {
            cumulative += buckets[i]
            out += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(count)\n"
        out += "\(name)_sum{\(labels)} \(sumSeconds)\n"
        out += "\(name)_count{\(labels)} \(count)\n"
        return out
    }
}
