/// Token buckets, one per `LogKey`, for one producer: at most `linesPerSecond` lines per
/// key per second, with bursts of up to `linesPerSecond` lines after a quiet second.
///
/// Owned by one `LogProducer` and used only on that producer's thread. Time is given by the
/// caller (monotonic nanoseconds), so tests drive it with a manual clock.
struct LogRateLimiter {
    private struct Bucket {
        /// Credit in nanoseconds of refill time, at most one second's worth.
        var credit: UInt64
        var lastRefill: UInt64
        /// Lines refused since the last line let through.
        var suppressed: UInt64
    }

    /// Lines let through per key per second.
    let linesPerSecond: Int
    /// Credit one line costs: a second divided among `linesPerSecond` lines.
    private let cost: UInt64
    /// Credit cap: one second, i.e. a burst of `linesPerSecond` lines.
    private let capacity: UInt64
    private var buckets: [LogKey: Bucket] = [:]

    init(linesPerSecond: Int) {
        precondition(linesPerSecond > 0, "a rate limit needs at least one line per second")
        self.linesPerSecond = linesPerSecond
        cost = 1_000_000_000 / UInt64(linesPerSecond)
        capacity = cost * UInt64(linesPerSecond)
    }

    /// Takes a token for a line under `key` at time `now`.
    ///
    /// - Returns: `nil` when the line must be suppressed (it is counted); otherwise how many
    ///   lines under `key` were suppressed since the last one let through, which the line
    ///   should report. The count is reset: call `restore(_:for:)` if the line is then lost.
    mutating func admit(_ key: LogKey, now: UInt64) -> UInt64? {
        var bucket = buckets[key] ?? Bucket(credit: capacity, lastRefill: now, suppressed: 0)
        // A clock that went backwards (another thread's `now`, a test) refills nothing.
        let elapsed = now > bucket.lastRefill ? now - bucket.lastRefill : 0
        bucket.lastRefill = max(bucket.lastRefill, now)
        bucket.credit = min(capacity, bucket.credit &+ min(elapsed, capacity))
        let result: UInt64?
        if bucket.credit >= cost {
            bucket.credit -= cost
            result = bucket.suppressed
            bucket.suppressed = 0
        } else {
            bucket.suppressed += 1
            result = nil
        }
        buckets[key] = bucket
        return result
    }

    /// Puts back a suppressed count that `admit` returned for a line that was then dropped
    /// (ring full), so the next line still reports it.
    mutating func restore(_ count: UInt64, for key: LogKey) {
        guard count > 0 else { return }
        buckets[key]?.suppressed += count
    }
}
