import Testing
import CausewayMesh

/// Picks `n` times and returns each backend's count.
private func counts(_ weights: [Int], picks n: Int, eligible: (Int) -> Bool = { _ in true }) -> [Int] {
    var backends = WeightedBackends(weights: weights)
    var hits = [Int](repeating: 0, count: weights.count)
    for _ in 0..<n {
        guard let pick = backends.next(eligible: eligible) else { return hits }
        hits[pick] += 1
    }
    return hits
}

@Suite("WeightedBackends")
struct WeightedBackendsTests {
    @Test("20,000 picks land within 1.5 points of every weight", arguments: [
        [90, 10], [50, 50], [1, 99], [50, 30, 20], [1, 1, 1], [70, 20, 10], [1, 2, 3], [1_000_000, 1, 999_999], [5, 0, 5],
    ])
    func proportions(weights: [Int]) {
        let n = 20_000
        let hits = counts(weights, picks: n)
        #expect(hits.reduce(0, +) == n)
        let total = Double(weights.reduce(0, +))
        for (i, weight) in weights.enumerated() {
            let share = 100 * Double(hits[i]) / Double(n)
            let wanted = 100 * Double(weight) / total
            #expect(abs(share - wanted) <= 1.5, "backend \(i): \(share) % for weight share \(wanted) %")
        }
    }

    @Test("90/10 is exact over 20,000 picks and spread out, not in runs")
    func ninetyTen() {
        #expect(counts([90, 10], picks: 20_000) == [18_000, 2_000])
        var backends = WeightedBackends(weights: [90, 10])
        let picks = (0..<20).compactMap { _ in backends.next() }
        #expect(picks.filter { $0 == 1 }.count == 2)
        // The two picks of the small backend are ten apart.
        let positions = picks.indices.filter { picks[$0] == 1 }
        #expect(positions.count == 2 && positions[1] - positions[0] == 10)
    }

    @Test("weights 3 and 1 interleave: A A B A")
    func interleaves() {
        var backends = WeightedBackends(weights: [3, 1])
        #expect((0..<8).compactMap { _ in backends.next() } == [0, 0, 1, 0, 0, 0, 1, 0])
    }

    @Test("weight 0 gets nothing; no positive weight gives nil", arguments: [[0], [0, 0], [], [-5, 0]])
    func nothingToPick(weights: [Int]) {
        var backends = WeightedBackends(weights: weights)
        #expect(backends.next() == nil)
    }

    @Test("a zero or negative weight is never picked")
    func zeroWeight() {
        #expect(counts([0, 3, -1, 1], picks: 4_000) == [0, 3_000, 0, 1_000])
        #expect(WeightedBackends(weights: [0, 3, -1]).weight(2) == 0)
        #expect(WeightedBackends(weights: [0, 3, -1]).weight(9) == 0)
        #expect(WeightedBackends(weights: [0, 3, -1]).count == 3)
    }

    @Test("an ineligible backend loses its turns; the others keep their proportions")
    func eligibility() {
        #expect(counts([50, 30, 20], picks: 5_000, eligible: { $0 != 0 }) == [0, 3_000, 2_000])
        #expect(counts([50, 30, 20], picks: 10, eligible: { _ in false }) == [0, 0, 0])
        // Only weight-0 backends eligible: none.
        var backends = WeightedBackends(weights: [0, 1])
        #expect(backends.next(eligible: { $0 == 0 }) == nil)
    }

    @Test("a backend that comes back rejoins at its share")
    func rejoins() {
        var backends = WeightedBackends(weights: [1, 1])
        for _ in 0..<100 { _ = backends.next(eligible: { $0 == 0 }) }
        var hits = [0, 0]
        for _ in 0..<1_000 { if let pick = backends.next() { hits[pick] += 1 } }
        #expect(hits == [500, 500])
    }
}
