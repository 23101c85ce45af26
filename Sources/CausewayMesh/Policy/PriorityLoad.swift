/// How traffic spreads over failover tiers (priorities): Envoy's priority load with the
/// overprovisioning factor 1.4.
///
/// A tier's health is `min(1, 1.4 × healthy / total)`: a tier keeps all the traffic it can
/// until fewer than 1/1.4 ≈ 71.4 % of its endpoints are healthy, then sheds the shortfall to
/// the next tiers in order. With the local tier (0) and one remote tier fully healthy:
///
/// | tier 0 healthy | 100 % | 80 % | 71.5 % | 60 % | 40 % | 20 % | 0 % |
/// |----------------|-------|------|--------|------|------|------|-----|
/// | tier 0 load    | 1.0   | 1.0  | 1.0    | 0.84 | 0.56 | 0.28 | 0   |
/// | tier 1 load    | 0     | 0    | 0      | 0.16 | 0.44 | 0.72 | 1.0 |
///
/// When the healths add up to less than 1 (every tier degraded), the loads are the healths
/// normalised to sum to 1, so traffic still goes somewhere. Doubles rather than Envoy's
/// integer percentages: no rounding remainder to hand out. Computed when health changes, not
/// per request.
public enum PriorityLoad {
    /// Envoy's default: a tier counts as fully healthy down to 1/1.4 of its endpoints.
    public static let overprovisioningFactor = 1.4

    /// Load share per tier (0...1, summing to 1), given healthy and total endpoints per tier;
    /// all zero when no tier has a healthy endpoint. One share per element of `total`; a
    /// missing `healthy` count is 0, and healthy counts are clamped to `0...total`.
    public static func loads(healthy: [Int], total: [Int]) -> [Double] {
        var health = [Double](repeating: 0, count: total.count)
        var sum = 0.0
        for i in total.indices where total[i] > 0 {
            let up = i < healthy.count ? min(max(0, healthy[i]), total[i]) : 0
            health[i] = min(1, overprovisioningFactor * Double(up) / Double(total[i]))
            sum += health[i]
        }
        guard sum > 0 else { return health }
        if sum < 1 {
            // Degraded everywhere: share by health.
            return health.map { $0 / sum }
        }
        // In order, each tier takes what it can of what is left.
        var remaining = 1.0
        for i in health.indices {
            let take = min(remaining, health[i])
            health[i] = take
            remaining -= take
        }
        return health
    }

    /// The tier for a uniform `random` in [0, 1): the first tier whose cumulative load
    /// exceeds `random`. Nil when every load is zero. A `random` outside [0, 1), or rounding
    /// that leaves the cumulative sum just below 1, picks the first or last loaded tier.
    public static func pick(_ loads: [Double], random: Double) -> Int? {
        var cumulative = 0.0
        var last: Int?
        for i in loads.indices where loads[i] > 0 {
            cumulative += loads[i]
            last = i
            if random < cumulative { return i }
        }
        return last
    }
}
