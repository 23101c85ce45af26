import XCTest
@testable import CausewayProxy

final class ProtocolClassifierTests: XCTestCase {
    private func classify(_ s: String, lineLimit: Int = 65536) -> ProtocolClassifier.Verdict {
        classify(Array(s.utf8), lineLimit: lineLimit)
    }

    private func classify(_ bytes: [UInt8], lineLimit: Int = 65536) -> ProtocolClassifier.Verdict {
        bytes.withUnsafeBytes { ProtocolClassifier.classify($0, lineLimit: lineLimit) }
    }

    func testThePrefaceAndEveryPrefixOfIt() {
        let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        XCTAssertEqual(classify(preface), .decided(.http2))
        XCTAssertEqual(classify(Array(preface.utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]), .decided(.http2))
        for n in 0..<preface.utf8.count {
            XCTAssertEqual(classify(Array(preface.utf8.prefix(n))), .wait, "prefix of \(n) bytes")
        }
        // A preface gone wrong after its request-line-like start is a broken HTTP/2 client.
        XCTAssertEqual(classify("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"), .decided(.unknown))
    }

    func testRequestLinesAreHTTP1() {
        XCTAssertEqual(classify("GET / HTTP/1.1\r\nhost: x\r\n\r\n"), .decided(.http1))
        XCTAssertEqual(classify("POST /upload?x=1 HTTP/1.0\r\n"), .decided(.http1))
        // A PRI request that is not the preface (the preface diverges at its version).
        XCTAssertEqual(classify("PRI /x HTTP/1.1\r\n"), .decided(.http1))
        // Bare LF: still HTTP/1, so the client gets a readable 400 from the parser.
        XCTAssertEqual(classify("GET / HTTP/1.1\nhost: x\n\n"), .decided(.http1))
    }

    func testPartialRequestLinesWait() {
        XCTAssertEqual(classify("G"), .wait)
        XCTAssertEqual(classify("POST"), .wait)
        XCTAssertEqual(classify("GET /some/path"), .wait)
        XCTAssertEqual(classify("GET / HTTP/1.1"), .wait)
        XCTAssertEqual(classify("GET / HTTP/1.1\r"), .wait)
    }

    func testALineTooLongToWaitForIsLeftToTheHTTP1Parser() {
        XCTAssertEqual(classify("GET /" + String(repeating: "a", count: 100), lineLimit: 64), .decided(.http1))
        XCTAssertEqual(classify("GET /" + String(repeating: "a", count: 100), lineLimit: 4096), .wait)
    }

    func testEverythingElseIsUnknown() {
        XCTAssertEqual(classify("INVALID CONNECTION PREFACE\r\n\r\n"), .decided(.unknown))
        XCTAssertEqual(classify("GET /\r\nHTTP/1.1"), .decided(.unknown))
        XCTAssertEqual(classify("GET / HTTP/2.0\r\n"), .decided(.unknown))
        XCTAssertEqual(classify([0x16, 0x03, 0x01, 0x02, 0x00]), .decided(.unknown))
        XCTAssertEqual(classify([UInt8](repeating: 0, count: 16)), .decided(.unknown))
        XCTAssertEqual(classify(" GET / HTTP/1.1\r\n"), .decided(.unknown))
        XCTAssertEqual(classify(String(repeating: "A", count: 40)), .decided(.unknown))
    }
}
