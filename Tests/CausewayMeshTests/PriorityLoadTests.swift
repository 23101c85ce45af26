import Testing
import CausewayMesh

/// Whether two load vectors agree to within rounding.
private func close(_ a: [Double], _ b: [Double]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-9 }
}

@Suite("PriorityLoad")
struct PriorityLoadTests {
    @Test("a fully healthy first tier takes everything")
    func healthy() {
        #expect(close(PriorityLoad.loads(healthy: [10, 10], total: [10, 10]), [1, 0]))
        #expect(close(PriorityLoad.loads(healthy: [3], total: [3]), [1]))
        #expect(close(PriorityLoad.loads(healthy: [3, 0, 5], total: [3, 4, 5]), [1, 0, 0]))
    }

    @Test("the documented shift: healthy share of tier 0 against a healthy tier 1", arguments: [
        (1000, 1.0), (800, 1.0), (715, 1.0), (720, 1.0), (600, 0.84), (500, 0.7), (400, 0.56), (200, 0.28), (0, 0.0),
    ])
    func shiftTable(healthyPerMille: Int, tier0: Double) {
        let loads = PriorityLoad.loads(healthy: [healthyPerMille, 1000], total: [1000, 1000])
        #expect(close(loads, [tier0, 1 - tier0]), "\(loads)")
    }

    @Test("1/1.4 of the endpoints is the point where traffic starts to move")
    func breakingPoint() {
        // 5 of 7 healthy: 1.4 × 5/7 = 1 exactly (to rounding).
        let at = PriorityLoad.loads(healthy: [5, 1], total: [7, 1])
        #expect(at[0] > 0.999_999)
        let below = PriorityLoad.loads(healthy: [4, 1], total: [7, 1])
        #expect(close(below, [0.8, 0.2]))
    }

    @Test("each tier takes what it can of what is left, in order")
    func cascade() {
        // Healths 0.7, 0.28, 1: tier 2 takes the last 0.02.
        #expect(close(PriorityLoad.loads(healthy: [5, 2, 10], total: [10, 10, 10]), [0.7, 0.28, 0.02]))
        // Tier 1 is empty of healthy endpoints: tier 2 takes the rest.
        #expect(close(PriorityLoad.loads(healthy: [5, 0, 10], total: [10, 10, 10]), [0.7, 0, 0.3]))
    }

    @Test("every tier degraded: the healths are normalised")
    func normalised() {
        #expect(close(PriorityLoad.loads(healthy: [2, 2], total: [10, 10]), [0.5, 0.5]))
        #expect(close(PriorityLoad.loads(healthy: [2, 2, 2], total: [10, 10, 10]), [1.0 / 3, 1.0 / 3, 1.0 / 3]))
        // Healths 0.28 and 0.14: two thirds and one third.
        #expect(close(PriorityLoad.loads(healthy: [2, 1], total: [10, 10]), [2.0 / 3, 1.0 / 3]))
        // A single degraded tier still takes everything.
        #expect(close(PriorityLoad.loads(healthy: [1], total: [10]), [1]))
    }

    @Test("no healthy endpoint anywhere: all zero, and no pick")
    func allDown() {
        let loads = PriorityLoad.loads(healthy: [0, 0], total: [5, 3])
        #expect(loads == [0, 0])
        #expect(PriorityLoad.pick(loads, random: 0.5) == nil)
        #expect(PriorityLoad.loads(healthy: [], total: []) == [])
        #expect(PriorityLoad.pick([], random: 0) == nil)
    }

    @Test("a tier with no endpoints is skipped")
    func emptyTier() {
        #expect(close(PriorityLoad.loads(healthy: [0, 4], total: [0, 4]), [0, 1]))
        #expect(close(PriorityLoad.loads(healthy: [0, 5, 10], total: [0, 10, 10]), [0, 0.7, 0.3]))
    }

    @Test("odd inputs are clamped: more healthy than total, negatives, missing healthy counts")
    func clamped() {
        #expect(close(PriorityLoad.loads(healthy: [20, 5], total: [10, 5]), [1, 0]))
        #expect(close(PriorityLoad.loads(healthy: [-3, 5], total: [10, 5]), [0, 1]))
        #expect(close(PriorityLoad.loads(healthy: [5], total: [10, 10]), [1, 0]), "missing counts are 0: one degraded tier")
        #expect(close(PriorityLoad.loads(healthy: [5, 5, 5], total: [10]), [1]))
        #expect(close(PriorityLoad.loads(healthy: [1, 1], total: [-1, 1]), [0, 1]))
    }

    @Test("loads always sum to 1 and stay within 0...1")
    func sums() {
        var random = SplitMix64(seed: 8)
        for _ in 0..<2_000 {
            let tiers = Int(random.next() % 5) + 1
            let total = (0..<tiers).map { _ in Int(random.next() % 20) }
            let healthy = total.map { $0 == 0 ? 0 : Int(random.next() % UInt64($0 + 1)) }
            let loads = PriorityLoad.loads(healthy: healthy, total: total)
            #expect(loads.allSatisfy { $0 >= 0 && $0 <= 1 })
            let sum = loads.reduce(0, +)
            let anyHealthy = healthy.contains { $0 > 0 }
            #expect(anyHealthy ? abs(sum - 1) < 1e-9 : sum == 0, "\(healthy) of \(total): \(loads)")
        }
    }

    @Test("pick follows the cumulative loads", arguments: [
        (0.0, 0), (0.69, 0), (0.7, 1), (0.99, 1), (0.999_999_999, 1),
    ])
    func pick(random: Double, tier: Int) {
        #expect(PriorityLoad.pick([0.7, 0.3], random: random) == tier)
    }

    @Test("pick skips unloaded tiers and clamps out-of-range randoms")
    func pickEdges() {
        #expect(PriorityLoad.pick([0, 1, 0], random: 0) == 1)
        #expect(PriorityLoad.pick([0, 1, 0], random: 0.999) == 1)
        #expect(PriorityLoad.pick([0.5, 0.5, 0], random: 1.5) == 1)
        #expect(PriorityLoad.pick([0, 0.5, 0.5], random: -1) == 1)
        // Rounding that leaves the sum just below 1 still picks the last loaded tier.
        #expect(PriorityLoad.pick([0.3, 0.3, 0.3999999], random: 0.99999999) == 2)
    }

    @Test("picks over many randoms follow the loads")
    func pickDistribution() {
        let loads = PriorityLoad.loads(healthy: [5, 10], total: [10, 10])
        var random = SplitMix64(seed: 1)
        var hits = [0, 0]
        let n = 100_000
        for _ in 0..<n {
            let u = Double(random.next() >> 11) / Double(UInt64(1) << 53)
            if let tier = PriorityLoad.pick(loads, random: u) { hits[tier] += 1 }
        }
        #expect(abs(Double(hits[0]) / Double(n) - 0.7) < 0.01)
        #expect(hits[0] + hits[1] == n)
    }

    @Test("the factor is Envoy's")
    func factor() {
        #expect(PriorityLoad.overprovisioningFactor == 1.4)
    }
}
