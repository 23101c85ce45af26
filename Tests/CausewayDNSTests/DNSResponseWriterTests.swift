import XCTest
@testable import CausewayDNS

final class DNSResponseWriterTests: XCTestCase {
    private func respond(_ query: [UInt8], code: DNSResponseCode = .noError, authoritative: Bool = true,
                         answers: [DNSAnswerRecord], limit: Int = 512) throws -> [UInt8] {
        let q = try DNSQuery.decode(query)
        var out: [UInt8] = [9, 9, 9]  // replaced, not appended to
        query.withUnsafeBytes {
            DNSResponseWriter.respond(to: q, message: $0, code: code, authoritative: authoritative, answers: answers, limit: limit, into: &out)
        }
        return out
    }

    private let vip = DNSAnswerRecord(type: DNSType.a, ttl: 30, data: [240, 240, 1, 2])

    func testAnAnswerEchoesTheQuestionAndNamesItByPointer() throws {
        let query = DNSTestMessages.query("WebApp.Production", id: 0x4242)
        let r = try ParsedResponse(try respond(query, answers: [vip]))
        XCTAssertEqual(r.header.id, 0x4242)
        XCTAssertTrue(r.header.isResponse)
        XCTAssertEqual(r.header.flags & DNSHeader.authoritativeBit, DNSHeader.authoritativeBit)
        XCTAssertEqual(r.header.flags & DNSHeader.recursionDesiredBit, DNSHeader.recursionDesiredBit)
        XCTAssertEqual(r.header.flags & DNSHeader.recursionAvailableBit, DNSHeader.recursionAvailableBit)
        XCTAssertFalse(r.header.isTruncated)
        XCTAssertEqual(r.header.responseCode, 0)
        XCTAssertEqual(r.header.questionCount, 1)
        // The client's letter case is kept (0x20 randomisation).
        XCTAssertEqual(r.questionName, DNSTestMessages.name("WebApp.Production"))
        XCTAssertEqual(r.answers.count, 1)
        XCTAssertEqual(r.answers[0].name, [0xc0, 0x0c])
        XCTAssertEqual(r.answers[0].type, DNSType.a)
        XCTAssertEqual(r.answers[0].class, DNSClass.internet)
        XCTAssertEqual(r.answers[0].ttl, 30)
        XCTAssertEqual(r.answers[0].data, [240, 240, 1, 2])
        XCTAssertNil(r.opt)
    }

    func testAnOPTRecordAnswersAnOPTRecord() throws {
        let query = DNSTestMessages.query("a.b", edns: DNSTestMessages.opt(size: 4096))
        let r = try ParsedResponse(try respond(query, answers: [vip], limit: 4096))
        XCTAssertEqual(r.opt?.size, DNSResponseWriter.advertisedPayloadSize)
        XCTAssertEqual(r.opt?.extendedCode, 0)
        XCTAssertEqual(r.header.additionalCount, 1)
    }

    func testNoDataAndNameErrorHaveNoAnswers() throws {
        let query = DNSTestMessages.query("nope.production.svc.clusterset.local")
        let nx = try ParsedResponse(try respond(query, code: .nameError, answers: []))
        XCTAssertEqual(nx.header.responseCode, 3)
        XCTAssertEqual(nx.header.answerCount, 0)
        let nodata = try ParsedResponse(try respond(query, answers: []))
        XCTAssertEqual(nodata.header.responseCode, 0)
        XCTAssertEqual(nodata.header.answerCount, 0)
    }

    func testAnAnswerOverTheLimitIsTruncatedWithTC() throws {
        let query = DNSTestMessages.query("many.example.test", edns: DNSTestMessages.opt(size: 512))
        let answers = (0..<60).map { DNSAnswerRecord(type: DNSType.aaaa, ttl: 5, data: [UInt8](repeating: UInt8($0), count: 16)) }
        let full = try respond(query, answers: answers, limit: 65_535)
        XCTAssertGreaterThan(full.count, 512)
        XCTAssertEqual(try ParsedResponse(full).answers.count, 60)
        let cut = try respond(query, answers: answers, limit: 512)
        XCTAssertLessThanOrEqual(cut.count, 512)
        let r = try ParsedResponse(cut)
        XCTAssertTrue(r.header.isTruncated)
        XCTAssertEqual(r.header.answerCount, 0)
        XCTAssertEqual(r.header.questionCount, 1)
        XCTAssertNotNil(r.opt)
    }

    func testTheLongestQuestionStillFitsWhenTruncated() throws {
        let label = String(repeating: "q", count: 63)
        let name = [label, label, label, String(repeating: "r", count: 61)].joined(separator: ".")
        let query = DNSTestMessages.query(name, edns: DNSTestMessages.opt())
        let answers = [DNSAnswerRecord(type: 16, ttl: 1, data: [UInt8](repeating: 0x41, count: 300))]
        let cut = try respond(query, answers: answers, limit: 512)
        XCTAssertLessThanOrEqual(cut.count, 512)
        XCTAssertTrue(try ParsedResponse(cut).header.isTruncated)
    }

    func testFailureKeepsTheQuestion() throws {
        let query = DNSTestMessages.query("slow.example.test", id: 7)
        let q = try DNSQuery.decode(query)
        var out: [UInt8] = []
        query.withUnsafeBytes { DNSResponseWriter.failure(to: q, message: $0, code: .serverFailure, into: &out) }
        let r = try ParsedResponse(out)
        XCTAssertEqual(r.header.id, 7)
        XCTAssertEqual(r.header.responseCode, 2)
        XCTAssertEqual(r.header.flags & DNSHeader.authoritativeBit, 0)
        XCTAssertEqual(r.questionName, DNSTestMessages.name("slow.example.test"))
    }

    func testBadVersionGoesInTheOPTRecord() throws {
        let query = DNSTestMessages.query("a.b", edns: DNSTestMessages.opt(version: 1))
        let r = try ParsedResponse(try respond(query, code: .badVersion, authoritative: false, answers: []))
        XCTAssertEqual(r.header.responseCode, 0)
        XCTAssertEqual(r.opt?.extendedCode, 1)
    }

    func testHeaderOnlyNotImplemented() throws {
        var out: [UInt8] = []
        let updateOpcode: UInt16 = 5 << 11
        DNSResponseWriter.headerOnly(id: 99, queryFlags: updateOpcode | DNSHeader.recursionDesiredBit | DNSHeader.authoritativeBit,
                                     code: .notImplemented, into: &out)
        XCTAssertEqual(out.count, 12)
        let header = out.withUnsafeBytes { DNSHeader($0)! }
        XCTAssertEqual(header.id, 99)
        XCTAssertEqual(header.opcode, 5)
        XCTAssertEqual(header.responseCode, 4)
        XCTAssertTrue(header.isResponse)
        XCTAssertTrue(header.recursionDesired)
        XCTAssertEqual(header.flags & DNSHeader.authoritativeBit, 0)
        XCTAssertEqual(header.questionCount, 0)
    }

    func testTruncatedUpstreamAnswerKeepsItsCodeAndTheClientsID() throws {
        let query = DNSTestMessages.query("big.example.test", id: 0x0a0b, edns: DNSTestMessages.opt())
        let q = try DNSQuery.decode(query)
        var out: [UInt8] = []
        query.withUnsafeBytes { DNSResponseWriter.truncated(upstreamFlags: 0x8183, to: q, message: $0, into: &out) }
        let r = try ParsedResponse(out)
        XCTAssertEqual(r.header.id, 0x0a0b)
        XCTAssertTrue(r.header.isTruncated)
        XCTAssertEqual(r.header.responseCode, 3)
        XCTAssertEqual(r.header.answerCount, 0)
        XCTAssertEqual(r.questionName, DNSTestMessages.name("big.example.test"))
        XCTAssertNotNil(r.opt)
    }
}
