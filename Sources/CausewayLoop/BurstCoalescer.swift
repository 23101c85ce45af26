/// Turns a burst of events into one notification: it is due once no event has come for
/// `quietNanos`, but never later than `maxDelayNanos` after the first event of the burst
/// (so a writer that never pauses still gets its changes applied about once per
/// `maxDelayNanos`).
///
/// Pure: times are monotonic nanoseconds passed in by the caller.
public struct BurstCoalescer: Sendable, Equatable {
    /// Where the current burst stands.
    public enum Phase: Sendable, Equatable {
        /// No event since the last notification.
        case idle
        /// Events are arriving: the first at `first`, the latest at `last`.
        case collecting(first: UInt64, last: UInt64)
    }

    /// Silence that ends a burst.
    public let quietNanos: UInt64
    /// The longest a burst is held after its first event.
    public let maxDelayNanos: UInt64
    public private(set) var phase = Phase.idle

    /// - Precondition: `maxDelayNanos >= quietNanos`.
    public init(quietNanos: UInt64, maxDelayNanos: UInt64) {
        precondition(maxDelayNanos >= quietNanos, "the longest delay must not be shorter than the quiet period")
        self.quietNanos = quietNanos
        self.maxDelayNanos = maxDelayNanos
    }

    /// Records an event at `now`.
    public mutating func note(now: UInt64) {
        switch phase {
        case .idle: phase = .collecting(first: now, last: now)
        case .collecting(let first, _): phase = .collecting(first: first, last: now)
        }
    }

    /// When the pending burst is due (nil when idle). Only moves later as events arrive,
    /// never past `first + maxDelayNanos`.
    public var deadline: UInt64? {
        guard case .collecting(let first, let last) = phase else { return nil }
        return min(last &+ quietNanos, first &+ maxDelayNanos)
    }

    /// True (and back to idle) when the burst is due at `now`.
    public mutating func takeIfDue(now: UInt64) -> Bool {
        guard let deadline, now >= deadline else { return false }
        phase = .idle
        return true
    }
}
