import XCTest
@testable import CausewayLoop

final class LogRateLimiterTests: XCTestCase {
    func testTenLinesPerSecondThenTheNextReportsTheSuppressedCount() {
        var limiter = LogRateLimiter(linesPerSecond: 10)
        let t0: UInt64 = 5_000_000_000
        for _ in 0..<10 { XCTAssertEqual(limiter.admit("tls-refused", now: t0), 0) }
        XCTAssertNil(limiter.admit("tls-refused", now: t0))
        XCTAssertNil(limiter.admit("tls-refused", now: t0 + 50_000_000), "half a token is not a token")
        XCTAssertEqual(limiter.admit("other", now: t0), 0, "keys have separate buckets")
        XCTAssertEqual(limiter.admit("tls-refused", now: t0 + 100_000_000), 2, "a tenth of a second refills one line")
        XCTAssertEqual(limiter.admit("tls-refused", now: t0 + 100_000_000 + 1_000_000_000), 0)
    }

    func testIdleTimeRefillsAtMostOneSecondOfBurst() {
        var limiter = LogRateLimiter(linesPerSecond: 3)
        XCTAssertEqual(limiter.admit("k", now: 0), 0)
        let later: UInt64 = 3600 * 1_000_000_000
        for _ in 0..<3 { XCTAssertNotNil(limiter.admit("k", now: later)) }
        XCTAssertNil(limiter.admit("k", now: later))
    }

    func testAClockGoingBackwardsRefillsNothing() {
        var limiter = LogRateLimiter(linesPerSecond: 1)
        XCTAssertEqual(limiter.admit("k", now: 10_000_000_000), 0)
        XCTAssertNil(limiter.admit("k", now: 1_000_000_000))
        XCTAssertEqual(limiter.admit("k", now: 11_000_000_000), 1)
    }

    func testRestoredCountIsReportedByTheNextLine() {
        var limiter = LogRateLimiter(linesPerSecond: 1)
        XCTAssertEqual(limiter.admit("k", now: 0), 0)
        XCTAssertNil(limiter.admit("k", now: 0))
        let count = limiter.admit("k", now: 1_000_000_000)
        XCTAssertEqual(count, 1)
        limiter.restore(count!, for: "k")  // That line was dropped by a full ring.
        XCTAssertEqual(limiter.admit("k", now: 2_000_000_000), 1)
    }
}
