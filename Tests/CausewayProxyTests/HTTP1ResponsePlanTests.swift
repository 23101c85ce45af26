import XCTest
@testable import CausewayHTTP
@testable import CausewayProxy

final class HTTP1ResponsePlanTests: XCTestCase {
    private func plan(status: Int = 200, _ fields: [(String, String)] = [], endStream: Bool = false, head: Bool = false,
                      minor: Int = 1, keepAlive: Bool = true) -> HTTP1ResponsePlan {
        let headers = HeaderBlock([(":status", String(status))] + fields)
        return HTTP1ResponsePlan.make(status: status, contentLength: headers.trustedContentLength, endStream: endStream,
                                      requestIsHEAD: head, clientMinorVersion: minor, keepAlive: keepAlive)
    }

    func testResponsesWithoutContentKeepTheirLengthInTheHeadOnly() {
        XCTAssertEqual(plan([("content-length", "6")], endStream: true, head: true),
                       HTTP1ResponsePlan(headFraming: .none, body: .none, keepAlive: true))
        // An upstream that sends a body anyway: it is taken and dropped.
        XCTAssertEqual(plan([("content-length", "6")], head: true), HTTP1ResponsePlan(headFraming: .none, body: .discard, keepAlive: true))
        XCTAssertEqual(plan(status: 204).body, .discard)
        XCTAssertEqual(plan(status: 304, endStream: true).body, .none)
    }

    func testBodiesAreFramedByATrustedLengthElseChunkedElseByTheClose() {
        XCTAssertEqual(plan(endStream: true), HTTP1ResponsePlan(headFraming: .contentLength(0), body: .none, keepAlive: true))
        XCTAssertEqual(plan([("content-length", "100")]), HTTP1ResponsePlan(headFraming: .contentLength(100), body: .contentLength(100), keepAlive: true))
        XCTAssertEqual(plan(), HTTP1ResponsePlan(headFraming: .chunked, body: .chunked, keepAlive: true))
        // Two lengths, even equal ones, or one that is not a plain number: not trusted.
        XCTAssertEqual(plan([("content-length", "5"), ("content-length", "5")]).body, .chunked)
        XCTAssertEqual(plan([("content-length", "+5")]).body, .chunked)
        XCTAssertEqual(plan([("content-length", "")]).body, .chunked)
        XCTAssertEqual(plan([("content-length", String(repeating: "9", count: 19))]).body, .chunked)
        // HTTP/1.0 has no chunks: the close delimits the body.
        XCTAssertEqual(plan(minor: 0), HTTP1ResponsePlan(headFraming: .untilClose, body: .untilClose, keepAlive: false))
        XCTAssertEqual(plan([("content-length", "3")], minor: 0).keepAlive, true)
        XCTAssertEqual(plan(keepAlive: false).keepAlive, false)
    }

    func testOneScanFindsTheLengthAndAnotherField() {
        let headers = HeaderBlock([(":status", "200"), ("content-length", "12"), ("x-causeway-upstream-cluster", "c2")])
        let scan = headers.scanResponseFields(also: "x-causeway-upstream-cluster")
        XCTAssertEqual(scan.contentLength, 12)
        XCTAssertTrue(scan.hasAlso)
        XCTAssertFalse(HeaderBlock([(":status", "200")]).scanResponseFields(also: "x-causeway-upstream-cluster").hasAlso)
    }
}
