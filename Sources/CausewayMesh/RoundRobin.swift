/// Picks endpoint positions in turn: 0, 1, ..., count - 1, 0, ...
///
/// One per worker per service, so it needs no synchronisation; it is a value type so it can
/// live inline in a worker's per-service array. The count is passed on every pick because the
/// endpoint list can change between picks (a new snapshot); the cursor is then reduced modulo
/// the new count, so a growing list reaches its new endpoints and a shrinking one stays in range.
public struct RoundRobin: Sendable {
    /// Next position to hand out, always in `0...lastCount` (never grows without bound).
    private var cursor: Int

    /// Starts at position 0.
    public init() {
        cursor = 0
    }

    /// Starts at `offset` (reduced modulo the first count). Workers pass their own index so
    /// that their first requests do not all go to the first endpoint.
    public init(offset: Int) {
        precondition(offset >= 0, "round-robin offset must not be negative")
        cursor = offset
    }

    /// The next position in `0..<count`, or nil when `count <= 0` (no endpoint to pick).
    public mutating func next(count: Int) -> Int? {
        guard count > 0 else { return nil }
        let pick = cursor % count
        cursor = pick + 1
        return pick
    }
}
