/// Items handed out a share at a time, evenly over a period: after a certificate rotation
/// every client of a gateway must reconnect, and sending all of them GOAWAY at once would
/// bring all their new handshakes at once too.
///
/// Pure: times are monotonic nanoseconds passed in by the caller.
struct SpreadDrain<Item> {
    /// Where the current batch stands.
    enum Phase {
        /// Nothing pending.
        case idle
        /// `items` are handed out over `periodNanos` from `start`; the first `taken` are out.
        case spreading(start: UInt64, periodNanos: UInt64)
    }

    private(set) var phase = Phase.idle
    private var items: [Item] = []
    private var taken = 0

    /// Items not handed out yet.
    var pending: Int { items.count - taken }

    /// Starts over with `items` (a batch still pending is dropped: pass its items again if
    /// they still need it), spread over `periodNanos` from `now`; 0 hands them all out at
    /// the next `takeDue`.
    mutating func start(_ items: [Item], now: UInt64, periodNanos: UInt64) {
        self.items = items
        taken = 0
        phase = items.isEmpty ? .idle : .spreading(start: now, periodNanos: periodNanos)
    }

    /// The items whose turn has come by `now`: the share of the period that has passed,
    /// rounded up, minus those already out.
    mutating func takeDue(now: UInt64) -> ArraySlice<Item> {
        guard case .spreading(let start, let period) = phase else { return [] }
        let elapsed = now >= start ? now - start : 0
        let due: Int
        if period == 0 || elapsed >= period {
            due = items.count
        } else {
            due = min(items.count, Int((Double(items.count) * Double(elapsed) / Double(period)).rounded(.up)))
        }
        guard due > taken else { return [] }
        let slice = items[taken..<due]
        taken = due
        if taken == items.count {
            // Done: the batch lets go of its references (the slice keeps what it returns).
            items = []
            taken = 0
            phase = .idle
        }
        return slice
    }
}
