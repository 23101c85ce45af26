import XCTest
@testable import CausewayProxy

/// After a rotation, gateway clients get GOAWAY a share at a time over the grace period.
final class SpreadDrainTests: XCTestCase {
    func testItemsAreHandedOutEvenlyOverThePeriod() {
        var d = SpreadDrain<Int>()
        d.start(Array(0..<10), now: 1_000, periodNanos: 10_000)
        XCTAssertEqual(Array(d.takeDue(now: 1_000)), [], "nothing at the start")
        XCTAssertEqual(Array(d.takeDue(now: 2_000)), [0])
        XCTAssertEqual(Array(d.takeDue(now: 2_000)), [], "not again for the same share")
        XCTAssertEqual(Array(d.takeDue(now: 5_500)), [1, 2, 3, 4], "rounded up: 4.5 of 10 due")
        XCTAssertEqual(d.pending, 5)
        XCTAssertEqual(Array(d.takeDue(now: 50_000)), [5, 6, 7, 8, 9], "everything by the end of the period")
        XCTAssertEqual(d.pending, 0)
        XCTAssertEqual(Array(d.takeDue(now: 60_000)), [])
    }

    func testAZeroPeriodHandsOutEverythingAtOnce() {
        var d = SpreadDrain<Int>()
        d.start([1, 2, 3], now: 5, periodNanos: 0)
        XCTAssertEqual(Array(d.takeDue(now: 5)), [1, 2, 3])
    }

    func testANewBatchReplacesThePendingOne() {
        var d = SpreadDrain<String>()
        d.start(["a", "b", "c", "d"], now: 0, periodNanos: 100)
        XCTAssertEqual(Array(d.takeDue(now: 50)), ["a", "b"])
        d.start(["c", "d", "e"], now: 50, periodNanos: 30)
        XCTAssertEqual(Array(d.takeDue(now: 60)), ["c"])
        XCTAssertEqual(Array(d.takeDue(now: 80)), ["d", "e"])
    }

    func testAnEmptyBatchIsIdle() {
        var d = SpreadDrain<Int>()
        d.start([], now: 0, periodNanos: 100)
        guard case .idle = d.phase else { return XCTFail("expected idle") }
        XCTAssertEqual(Array(d.takeDue(now: 1_000)), [])
    }
}
