import Testing
@testable import CausewayHTTP

@Suite("HeaderBudget")
struct HeaderBudgetTests {
    @Test func sizeCountsThirtyTwoBytesPerField() {
        var b = HeaderBudget(maxSize: 100, maxFields: 10)
        #expect(b.charge(nameLength: 10, valueLength: 26) == .within)   // 68
        #expect(b.charge(nameLength: 0, valueLength: 0) == .within)     // 100: at the limit
        #expect(b.charge(nameLength: 0, valueLength: 1) == .over)       // 133
        #expect(b.exceeded)
        #expect(b.charge(nameLength: 0, valueLength: 100) == .far)      // past twice the limit
    }

    @Test func fieldCount() {
        var b = HeaderBudget(maxSize: 1 << 20, maxFields: 3)
        for _ in 0..<3 { #expect(b.charge(nameLength: 1, valueLength: 1) == .within) }
        #expect(b.charge(nameLength: 1, valueLength: 1) == .over)
        #expect(b.charge(nameLength: 1, valueLength: 1) == .over)
        #expect(b.charge(nameLength: 1, valueLength: 1) == .over)
        #expect(b.charge(nameLength: 1, valueLength: 1) == .far)
    }

    @Test func removingAllNamedFieldsCopiesOnlyWhenNeeded() {
        let trailers = HeaderBlock([("grpc-status", "0"), ("x-forwarded-client-cert", "URI=evil"), ("x-other", "1")])
        let clean = trailers.removingAll(named: "x-forwarded-client-cert")
        #expect((0..<clean.count).map { clean.name(at: $0) } == ["grpc-status", "x-other"])
        #expect(HeaderBlock([("a", "b")]).removingAll(named: "x-forwarded-client-cert").count == 1)
    }
}

@Suite("StreamIDGaps")
struct StreamIDGapsTests {
    /// Opens each id in turn; the verdict for each.
    private func verdicts(_ ids: [Int32]) -> [Bool] {
        var g = StreamIDGaps()
        return ids.map { g.opened($0) }
    }

    @Test func skippedIdsAreViolationsOpenedOnesAreNot() {
        // 5 skips 1 and 3; 7 is next; 5 again is a late trailer; 13 skips 9 and 11.
        #expect(verdicts([5, 3, 1, 7, 5, 13, 11, 7]) == [true, false, false, true, true, true, false, true])
    }

    @Test func inOrderClientsNeverTrip() {
        let ids = Array(stride(from: Int32(1), through: 2001, by: 2))
        #expect(verdicts(ids + ids).allSatisfy { $0 })
    }
}
