import Testing
import CausewayMesh

@Suite("RoundRobin")
struct RoundRobinTests {
    @Test("no endpoints, no pick", arguments: [0, -1])
    func empty(count: Int) {
        var rr = RoundRobin()
        #expect(rr.next(count: count) == nil)
        #expect(rr.next(count: 1) == 0)
    }

    @Test("visits positions in order and wraps")
    func order() {
        var rr = RoundRobin()
        let picks = (0..<7).map { _ in rr.next(count: 3) }
        #expect(picks == [0, 1, 2, 0, 1, 2, 0])
    }

    @Test("10,000 picks are spread evenly", arguments: [1, 2, 3, 7, 10, 64, 10_000, 20_000])
    func fairness(count: Int) {
        var rr = RoundRobin()
        var hits = [Int](repeating: 0, count: count)
        for _ in 0..<10_000 {
            guard let pick = rr.next(count: count) else {
                Issue.record("no pick for count \(count)")
                return
            }
            hits[pick] += 1
        }
        let expectedLow = 10_000 / count
        let expectedHigh = expectedLow + (10_000 % count == 0 ? 0 : 1)
        #expect(hits.allSatisfy { $0 >= expectedLow && $0 <= expectedHigh })
        #expect(hits.reduce(0, +) == 10_000)
    }

    @Test("a growing list reaches its new endpoints at once")
    func grows() {
        var rr = RoundRobin()
        #expect([rr.next(count: 3), rr.next(count: 3), rr.next(count: 3)] == [0, 1, 2])
        #expect([rr.next(count: 5), rr.next(count: 5), rr.next(count: 5)] == [3, 4, 0])
    }

    @Test("a shrinking list stays in range and stays fair")
    func shrinks() {
        var rr = RoundRobin()
        for _ in 0..<4 { _ = rr.next(count: 5) }
        var hits = [0, 0]
        for _ in 0..<10_000 {
            guard let pick = rr.next(count: 2), pick < 2 else {
                Issue.record("pick out of range")
                return
            }
            hits[pick] += 1
        }
        #expect(hits == [5_000, 5_000])
    }

    @Test("changing counts on every pick never leaves the range")
    func churn() {
        var rr = RoundRobin(offset: 12)
        var outOfRange = 0
        for i in 0..<10_000 {
            let count = 1 + (i * 7919) % 13
            if let pick = rr.next(count: count), pick >= count { outOfRange += 1 }
        }
        #expect(outOfRange == 0)
    }

    @Test("an offset starts the cycle elsewhere")
    func offset() {
        var rr = RoundRobin(offset: 4)
        #expect([rr.next(count: 3), rr.next(count: 3), rr.next(count: 3)] == [1, 2, 0])
    }
}
