import XCTest
@testable import CausewayDNS

final class DNSUpstreamReplyTests: XCTestCase {
    private func inspect(_ reply: [UInt8], _ question: DNSQuestion) -> Result<DNSUpstreamReply, DNSUpstreamReply.Rejection> {
        reply.withUnsafeBytes { raw in
            Result { () throws(DNSUpstreamReply.Rejection) in try DNSUpstreamReply.inspect(raw, answering: question) }
        }
    }

    private let question = DNSQuestion(name: DNSName("example.test"), type: DNSType.a)

    func testAMatchingReplyIsAccepted() throws {
        let query = DNSTestMessages.query("Example.TEST")
        let reply = DNSTestMessages.response(to: query, records: [(DNSType.a, [192, 0, 2, 1])])
        let accepted = try inspect(reply, question).get()
        XCTAssertEqual(accepted.header.answerCount, 1)
        XCTAssertFalse(accepted.header.isTruncated)
    }

    func testAReplyToAnotherQuestionIsRejected() {
        let other = DNSTestMessages.response(to: DNSTestMessages.query("evil.test"))
        if case .failure(let r) = inspect(other, question) { XCTAssertEqual(r, .questionMismatch) } else { XCTFail() }
        let otherType = DNSTestMessages.response(to: DNSTestMessages.query("example.test", type: DNSType.aaaa))
        if case .failure(let r) = inspect(otherType, question) { XCTAssertEqual(r, .questionMismatch) } else { XCTFail() }
        let otherClass = DNSTestMessages.response(to: DNSTestMessages.query("example.test", class: 3))
        if case .failure(let r) = inspect(otherClass, question) { XCTAssertEqual(r, .questionMismatch) } else { XCTFail() }
    }

    func testAQueryOrGarbageIsNotAResponse() {
        let query = DNSTestMessages.query("example.test")
        if case .failure(let r) = inspect(query, question) { XCTAssertEqual(r, .notAResponse) } else { XCTFail() }
        if case .failure(let r) = inspect([1, 2, 3], question) { XCTAssertEqual(r, .notAResponse) } else { XCTFail() }
        var noQuestion = DNSTestMessages.response(to: query)
        noQuestion[5] = 0
        if case .failure(let r) = inspect(noQuestion, question) { XCTAssertEqual(r, .questionMismatch) } else { XCTFail() }
        var looping = [UInt8]()
        DNSHeader(id: 1, flags: 0x8180, questionCount: 1).write(to: &looping)
        looping += [0xc0, 12, 0, 1, 0, 1]
        if case .failure(let r) = inspect(looping, question) { XCTAssertEqual(r, .malformed(.compressionLoop)) } else { XCTFail() }
        let cut = Array(DNSTestMessages.response(to: query).prefix(12 + 14 + 2))
        if case .failure(let r) = inspect(cut, question) { XCTAssertEqual(r, .malformed(.truncated)) } else { XCTFail() }
    }

    func testIDsAreRewritten() {
        var message = DNSTestMessages.query("example.test", id: 0x1111)
        DNSUpstreamReply.setID(0xabcd, in: &message)
        XCTAssertEqual(message.withUnsafeBytes { DNSUpstreamReply.id(of: $0) }, 0xabcd)
        XCTAssertNil([UInt8(1)].withUnsafeBytes { DNSUpstreamReply.id(of: $0) })
        XCTAssertEqual(try DNSQuery.decode(message).question.name.description, "example.test")
    }
}
