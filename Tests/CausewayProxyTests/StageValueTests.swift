import XCTest
@testable import CausewayLoop
@testable import CausewayProxy

final class ResetTrackerTests: XCTestCase {
    func testTripsWhenMoreThanHalfOfTheLastHundredWereReset() {
        var t = ResetTracker()
        // 99 streams, all reset: not enough history yet.
        for _ in 0..<99 { XCTAssertFalse(t.record(premature: true)) }
        XCTAssertTrue(t.record(premature: true))
    }

    func testHalfIsTolerated() {
        var t = ResetTracker()
        for i in 0..<1000 { XCTAssertFalse(t.record(premature: i % 2 == 0), "stream \(i)") }
        XCTAssertEqual(t.premature, 50)
    }

    func testOldResetsAgeOut() {
        var t = ResetTracker()
        for _ in 0..<50 { _ = t.record(premature: true) }
        for _ in 0..<100 { XCTAssertFalse(t.record(premature: false)) }
        XCTAssertEqual(t.premature, 0)
        for _ in 0..<50 { XCTAssertFalse(t.record(premature: true)) }
        XCTAssertTrue(t.record(premature: true))
    }
}

final class HTTP1DetectionTests: XCTestCase {
    func looks(_ s: String) -> Bool { Array(s.utf8).withUnsafeBytes { HTTP2Preface.looksLikeHTTP1($0) } }

    func testRequestLinesAreHTTP1AndOtherGarbageIsNot() {
        XCTAssertTrue(looks("GET / HTTP/1.1\r\nhost: x\r\n\r\n"))
        XCTAssertTrue(looks("POST /upload?x=1 HTTP/1.0\r\n"))
        XCTAssertFalse(looks("INVALID CONNECTION PREFACE\r\n\r\n"))
        XCTAssertFalse(looks("GET /\r\nHTTP/1.1"))
        XCTAssertFalse(looks("get / HTTP/1.1\r\n"))
        XCTAssertFalse(looks("\u{16}\u{03}\u{01}"))
    }
}

final class DescriptorBudgetTests: XCTestCase {
    func testAQuarterOfTheLimitStaysForUpstreams() {
        XCTAssertEqual(OpenFileLimit.downstreamBudget(limit: 1_048_576, workers: 2), 393_216)
        XCTAssertEqual(OpenFileLimit.downstreamBudget(limit: 1024, workers: 2), 384)
        XCTAssertEqual(OpenFileLimit.downstreamBudget(limit: 300, workers: 4), 11)
        XCTAssertEqual(OpenFileLimit.downstreamBudget(limit: 100, workers: 1), 1)
    }
}
