import XCTest
@testable import CausewayProxy

final class ProtocolClassifierTests: XCTestCase {
    private func classify(_ s: String, lineLimit: Int = 65536) -> ProtocolClassifier.Verdict {
        classify(Array(s.utf8), lineLimit: lineLimit)
    }

    private func classify(_ bytes: [UInt8], lineLimit: Int = 65536) -> ProtocolClassifier.Verdict {
        bytes.withUnsafeBytes { ProtocolClassifier.classify($0, lineLimit: lineLimit) }
    }

    /// Feeds `bytes` as a sniffer does when they arrive one byte per read: each call sees
    /// everything so far. Returns the first decision (or the last `.wait`) and the work done.
    private func classifyByteByByte(_ bytes: [UInt8], lineLimit: Int = 65536) -> (verdict: ProtocolClassifier.Verdict, examined: Int) {
        var classifier = ProtocolClassifier()
        var verdict = ProtocolClassifier.Verdict.wait
        bytes.withUnsafeBytes { all in
            for n in 1...max(1, all.count) where n <= all.count {
                verdict = classifier.classify(UnsafeRawBufferPointer(rebasing: all[0..<n]), lineLimit: lineLimit)
                if verdict != .wait { break }
            }
        }
        return (verdict, classifier.bytesExamined)
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

    func testEverySplitGivesTheVerdictOfTheWholeInput() {
        let inputs = [
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", "PRI /x HTTP/1.1\r\n",
            "GET / HTTP/1.1\r\nhost: x\r\n\r\n", "POST /upload?x=1 HTTP/1.0\r\n", "GET / HTTP/1.1\nhost: x\n\n",
            "INVALID CONNECTION PREFACE\r\n\r\n", "GET /\r\nHTTP/1.1", "GET / HTTP/2.0\r\n", " GET / HTTP/1.1\r\n",
            String(repeating: "A", count: 40), String(repeating: "A", count: 32) + " / HTTP/1.1\r\n",
            "GET /" + String(repeating: "a", count: 100), "G", "GET / HTTP/1.1\r",
        ]
        for text in inputs {
            for lineLimit in [64, 65536] {
                let bytes = Array(text.utf8)
                XCTAssertEqual(classifyByteByByte(bytes, lineLimit: lineLimit).verdict, classify(bytes, lineLimit: lineLimit),
                               "\(text.debugDescription), line limit \(lineLimit)")
            }
        }
    }

    func testByteByByteInputCostsLinearWork() {
        // A request line that never ends, one byte per read, up to the line limit: a rescan of
        // the line for its LF on every read would look at n²/2 bytes (2·10⁹ for 64 KiB).
        let n = 65536
        let line = Array("GET /".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: n - 5)
        let open = classifyByteByByte(line, lineLimit: n)
        XCTAssertEqual(open.verdict, .decided(.http1))
        XCTAssertLessThanOrEqual(open.examined, 2 * n)
        // The same with the line's end arriving last, and the preface.
        let ended = classifyByteByByte(Array(line.prefix(n - 16)) + Array(" HTTP/1.1\r\n".utf8), lineLimit: 1 << 20)
        XCTAssertEqual(ended.verdict, .decided(.http1))
        XCTAssertLessThanOrEqual(ended.examined, 2 * n)
        let preface = classifyByteByByte(HTTP2Preface.bytes)
        XCTAssertEqual(preface.verdict, .decided(.http2))
        XCTAssertLessThanOrEqual(preface.examined, 2 * HTTP2Preface.bytes.count)
    }
}
