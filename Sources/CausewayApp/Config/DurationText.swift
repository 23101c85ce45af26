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

/// Gateway API durations (GEP-2257), which the traffic policy kinds use: one to four parts,
/// each 1-5 digits and a unit (`h`, `m`, `s`, `ms`), such as `10s`, `500ms`, `1h` or
/// `1m30s`. No fractions, no days, no sign. Parts add up; like the Gateway API's own pattern,
/// their order is not checked.
extension DurationText {
    /// Milliseconds, or nil if `text` is not a Gateway API duration.
    static func gatewayMillis(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        var i = 0, parts = 0, total = 0
        while i < bytes.count {
            let start = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") { i += 1 }
            let digitCount = i - start
            guard (1...5).contains(digitCount), i < bytes.count else { return nil }
            var value = 0
            for b in bytes[start..<i] { value = value * 10 + Int(b - UInt8(ascii: "0")) }
            let unit: Int
            switch bytes[i] {
            case UInt8(ascii: "h"): unit = 3_600_000; i += 1
            case UInt8(ascii: "s"): unit = 1_000; i += 1
            case UInt8(ascii: "m"):
                if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "s") {
                    unit = 1; i += 2
                } else {
                    unit = 60_000; i += 1
                }
            default: return nil
            }
            parts += 1
            guard parts <= 4 else { return nil }
            total += value * unit  // at most 4 × 99,999 h: no overflow
        }
        return parts == 0 ? nil : total
    }

    /// For `1.5s`, which has a fraction: `1500ms`, to suggest instead (when it is a whole
    /// number of milliseconds). Nil for anything else.
    static func wholeMillisForFraction(_ text: String) -> String? {
        for (suffix, millis) in [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)] where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            let halves = number.split(separator: ".", omittingEmptySubsequences: false)
            guard halves.count == 2, !halves[0].isEmpty, !halves[1].isEmpty, halves[0].count <= 6, halves[1].count <= 6,
                  (halves[0] + halves[1]).utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let whole = Int(halves[0]), let fraction = Int(halves[1])
            else { return nil }
            var scale = 1
            for _ in 0..<halves[1].count { scale *= 10 }
            let numerator = fraction * millis
            guard numerator % scale == 0 else { return nil }
            return format(whole * millis + numerator / scale)
        }
        return nil
    }
}
