/// Durations as config writes them: a whole number and one unit, `250ms`, `1s`, `2m`, `1h`.
///
/// Deliberately smaller than Go's `time.ParseDuration` (no fractions, no `1m30s`): every value
/// this config needs is a whole number of one unit, and a small grammar gives clear errors.
/// Like Go (and so Kubernetes), there is no `d` unit: 30 days is `720h`.
///
/// Durations are read in milliseconds and held as nanoseconds (what the engine's clocks
/// count). `nanos(fromMillis:)` is the one place milliseconds become nanoseconds, and
/// `millis(fromNanos:)` the one place they are shown as milliseconds again.
enum DurationText {
    private static let units: [(suffix: String, millis: Int)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]

    /// Milliseconds, or nil if `text` is not `DIGITS UNIT` or overflows.
    static func millis(_ text: String) -> Int? {
        // "ms" before "m" and "s": the longest suffix that matches wins.
        for unit in units.sorted(by: { $0.suffix.count > $1.suffix.count }) where text.hasSuffix(unit.suffix) {
            let digits = text.dropLast(unit.suffix.count)
            guard !digits.isEmpty, digits.count <= 12,
                  digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let value = Int(digits)
            else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.millis)
            return overflow ? nil : product
        }
        return nil
    }

    /// For `30d`, which is not a duration here: `720h`, to suggest instead. Nil for anything
    /// else.
    static func hoursForDays(_ text: String) -> String? {
        guard text.hasSuffix("d") else { return nil }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.count <= 6,
              digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let days = Int(digits)
        else { return nil }
        return "\(days * 24)h"
    }

    /// The shortest exact spelling of `millis`: `1h`, `90s`, `250ms`.
    static func format(_ millis: Int) -> String {
        for unit in units.reversed() where millis != 0 && millis % unit.millis == 0 {
            return "\(millis / unit.millis)\(unit.suffix)"
        }
        return "\(millis)ms"
    }

    /// A validated (non-negative, at most 30 days) duration in milliseconds as nanoseconds.
    static func nanos(fromMillis millis: Int) -> UInt64 {
        precondition(millis >= 0, "durations are validated non-negative")
        return UInt64(millis) * 1_000_000
    }

    /// Nanoseconds as whole milliseconds, for showing a duration (`EffectiveConfig`).
    static func millis(fromNanos nanos: UInt64) -> Int {
        Int(nanos / 1_000_000)
    }
}
