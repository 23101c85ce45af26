/// Stream ids a client skipped when it opened a higher one. RFC 9113 §5.1.1: ids open in
/// increasing order, and skipping one closes it; HEADERS on it later is a connection error.
/// nghttp2 1.52 ignores such HEADERS, so the server session records the gaps itself (the
/// last few, in a fixed ring) and flags HEADERS inside one. Ids the client did open but
/// nghttp2 refused or ignored (after GOAWAY, over the stream limit) are not gaps, so their
/// late trailers are never mistaken for a violation.
struct StreamIDGaps {
    /// Gaps remembered; clients skip ids rarely, attackers' older gaps may be forgotten.
    static let capacity = 16
    private var ranges: [(low: Int32, high: Int32)] = []
    private var next = 0
    /// Highest id a client opened with HEADERS.
    private(set) var highest: Int32 = 0

    /// Records HEADERS on client stream `id`. Returns false when `id` was skipped earlier
    /// (a connection error).
    mutating func opened(_ id: Int32) -> Bool {
        if id > highest {
            // Client ids are odd: the ids between `highest` and `id` were skipped.
            let low = highest == 0 ? 1 : highest + 2
            if id - 2 >= low { remember(low, id - 2) }
            highest = id
            return true
        }
        return !ranges.contains { $0.low <= id && id <= $0.high }
    }

    private mutating func remember(_ low: Int32, _ high: Int32) {
        if ranges.count < Self.capacity {
            ranges.append((low, high))
        } else {
            ranges[next] = (low, high)
            next = (next + 1) % Self.capacity
        }
    }
}
