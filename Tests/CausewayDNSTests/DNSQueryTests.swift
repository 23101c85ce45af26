import XCTest
import CausewayMesh
@testable import CausewayDNS

final class DNSQueryTests: XCTestCase {
    private func expect(_ message: [UInt8], _ error: DNSDecodeError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try DNSQuery.decode(message), file: file, line: line) {
            XCTAssertEqual($0 as? DNSDecodeError, error, file: file, line: line)
        }
    }

    func testDecodesAQueryWithoutEDNS() throws {
        let q = try DNSQuery.decode(DNSTestMessages.query("WebApp.production.svc.cluster.local", type: DNSType.aaaa, id: 0xbeef))
        XCTAssertEqual(q.header.id, 0xbeef)
        XCTAssertTrue(q.header.recursionDesired)
        XCTAssertEqual(q.question.name.description, "webapp.production.svc.cluster.local")
        XCTAssertEqual(q.question.type, DNSType.aaaa)
        XCTAssertEqual(q.question.class, DNSClass.internet)
        XCTAssertNil(q.edns)
        XCTAssertEqual(q.udpLimit, 512)
        XCTAssertEqual(q.questionEnd, 12 + 37 + 4)
    }

    func testReadsTheOPTRecord() throws {
        let q = try DNSQuery.decode(DNSTestMessages.query("example.test", edns: DNSTestMessages.opt(size: 4096, dnssecOK: true)))
        XCTAssertEqual(q.edns, EDNSOptions(udpPayloadSize: 4096, version: 0, dnssecOK: true))
        XCTAssertEqual(q.udpLimit, 4096)
        // Below 512 counts as 512 (RFC 6891 §6.2.3).
        let small = try DNSQuery.decode(DNSTestMessages.query("example.test", edns: DNSTestMessages.opt(size: 100)))
        XCTAssertEqual(small.udpLimit, 512)
        let v1 = try DNSQuery.decode(DNSTestMessages.query("example.test", edns: DNSTestMessages.opt(version: 1)))
        XCTAssertEqual(v1.edns?.version, 1)
    }

    func testShortMessagesAreRefused() {
        let full = DNSTestMessages.query("a.b")
        for n in 0..<12 { expect(Array(full.prefix(n)), .shortHeader) }
        // Every cut inside the question is refused too.
        for n in 12..<full.count { XCTAssertThrowsError(try DNSQuery.decode(Array(full.prefix(n))), "prefix \(n)") }
        XCTAssertNoThrow(try DNSQuery.decode(full))
    }

    func testResponsesAreNeverTakenAsQueries() {
        expect(DNSTestMessages.query("a.b", flags: DNSHeader.responseBit), .notAQuery)
    }

    func testExactlyOneQuestion() {
        var none = DNSTestMessages.query("a.b")
        none[5] = 0
        expect(none, .questionCount)
        var two = DNSTestMessages.query("a.b")
        two[5] = 2
        two += DNSTestMessages.name("c.d") + [0, 1, 0, 1]
        expect(two, .questionCount)
    }

    func testTrailingBytesAreRefused() {
        expect(DNSTestMessages.query("a.b") + [0], .trailingBytes)
        expect(DNSTestMessages.query("a.b", edns: DNSTestMessages.opt()) + [1, 2, 3], .trailingBytes)
    }

    func testAdditionalCountBeyondTheMessageIsRefused() {
        var message = DNSTestMessages.query("a.b")
        message[11] = 1
        expect(message, .truncated)
        message[11] = 0xff
        message += DNSTestMessages.opt()
        expect(message, .truncated)
    }

    func testTwoOPTRecordsOrANamedOneAreRefused() {
        var two = DNSTestMessages.query("a.b", edns: DNSTestMessages.opt())
        two[11] = 2
        two += DNSTestMessages.opt()
        expect(two, .badOPT)
        var named = DNSTestMessages.query("a.b")
        named[11] = 1
        named += DNSTestMessages.name("x") + DNSTestMessages.u16(DNSType.opt) + [4, 0, 0, 0, 0, 0, 0, 0]
        expect(named, .badOPT)
    }

    func testOtherAdditionalRecordsAreSkipped() throws {
        // A TSIG-like record before the OPT: walked over, OPT still found.
        var message = DNSTestMessages.query("a.b")
        message[11] = 2
        message += [0xc0, 12] + DNSTestMessages.u16(250) + DNSTestMessages.u16(255) + [0, 0, 0, 0] + DNSTestMessages.u16(3) + [1, 2, 3]
        message += DNSTestMessages.opt(size: 2048)
        XCTAssertEqual(try DNSQuery.decode(message).udpLimit, 2048)
    }

    func testAnswerAndAuthorityRecordsAreWalkedOver() throws {
        var message = DNSTestMessages.query("a.b")
        message[7] = 1  // one answer
        message[9] = 1  // one authority record
        message += [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 10, 0, 0, 1]
        message += [0xc0, 12, 0, 2, 0, 1, 0, 0, 0, 9, 0, 2, 0xc0, 12]
        XCTAssertEqual(try DNSQuery.decode(message).question.name.description, "a.b")
        // RDATA running past the end.
        var cut = DNSTestMessages.query("a.b")
        cut[7] = 1
        cut += [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 40, 10, 0, 0, 1]
        expect(cut, .truncated)
    }

    func testCompressionLoopInTheQuestionIsRefused() {
        var message: [UInt8] = []
        DNSHeader(id: 1, flags: 0, questionCount: 1).write(to: &message)
        message += [0xc0, 12, 0, 1, 0, 1]
        expect(message, .compressionLoop)
    }

    func testAnOPTRecordOwnedByAPointerIsNotTheRoot() {
        // An OPT record owned by a pointer (here to "example.com" inside the question): the
        // pointer is not followed, and only the root's one zero byte owns an OPT record.
        var message = DNSTestMessages.query("www.example.com")
        message[11] = 1
        message += [0xc0, 16] + DNSTestMessages.u16(DNSType.opt) + [4, 0, 0, 0, 0, 0, 0, 0]
        expect(message, .badOPT)
    }

    func testRecordOwnerPointersAreNeverFollowed() throws {
        // The first answer's RDATA holds a byte of the reserved label type 0x40; the second
        // answer's owner points at it. Followed, the owner would be refused (badLabelType);
        // walked over, the pointer ends the owner and the message decodes.
        var message = DNSTestMessages.query("a.b")
        message[7] = 2
        let rdata = message.count + 2 + 10
        message += [0xc0, 12] + DNSTestMessages.u16(99) + DNSTestMessages.u16(1) + [0, 0, 0, 0] + DNSTestMessages.u16(2) + [0x40, 0x41]
        message += [0xc0, UInt8(rdata)] + DNSTestMessages.u16(1) + DNSTestMessages.u16(1) + [0, 0, 0, 0] + DNSTestMessages.u16(0)
        var hops = 0
        let query = try message.withUnsafeBytes { raw in
            try Result { () throws(DNSDecodeError) in try DNSQuery.decode(raw, hops: &hops) }.get()
        }
        XCTAssertEqual(query.question.name.description, "a.b")
        XCTAssertEqual(hops, 0)
        // What can be checked without following still is: a pointer into the header, past the
        // end, or not before the owner it ends.
        for bad: (UInt8, DNSDecodeError) in [(4, .pointerOutOfRange), (0xff, .pointerOutOfRange), (UInt8(rdata + 2), .compressionLoop)] {
            var m = message
            m[rdata + 3] = bad.0
            expect(m, bad.1)
        }
    }

    /// The CPU attack on a resolver that follows every owner's pointers: in one 64 KiB TCP
    /// message, a chain of 8,176 pointers each pointing at the one before (as long as 14-bit
    /// offsets allow), then 4,096 records whose owners point at the chain's top: 33 million
    /// jumps if followed. Decoding walks over them all without one jump, and reading the
    /// chain's top as a name stops at `DNSName.maxPointers`.
    func testAPointerChainUnderManyRecordsCostsNoJumps() throws {
        var message: [UInt8] = []
        DNSHeader(id: 1, flags: DNSHeader.recursionDesiredBit, questionCount: 1, answerCount: 1 + 4096).write(to: &message)
        message += DNSTestMessages.name("a") + DNSTestMessages.u16(DNSType.a) + DNSTestMessages.u16(DNSClass.internet)
        let chainStart = message.count + 2 + 10
        let links = (0x4000 - chainStart) / 2
        message += [0xc0, 12] + DNSTestMessages.u16(99) + DNSTestMessages.u16(1) + [0, 0, 0, 0] + DNSTestMessages.u16(UInt16(2 * links))
        message += [0xc0, 12]
        for k in 1..<links { message += [0xc0 | UInt8((chainStart + 2 * (k - 1)) >> 8), UInt8((chainStart + 2 * (k - 1)) & 0xff)] }
        let top = chainStart + 2 * (links - 1)
        XCTAssertLessThan(top, 0x4000)
        for _ in 0..<4096 {
            message += [0xc0 | UInt8(top >> 8), UInt8(top & 0xff)] + DNSTestMessages.u16(DNSType.a) + DNSTestMessages.u16(1) + [0, 0, 0, 0] + DNSTestMessages.u16(0)
        }
        XCTAssertEqual(message.count, 65_535)
        var hops = 0
        let query = try message.withUnsafeBytes { raw in
            try Result { () throws(DNSDecodeError) in try DNSQuery.decode(raw, hops: &hops) }.get()
        }
        XCTAssertEqual(query.question.name.description, "a")
        XCTAssertEqual(hops, 0)
        // Read as a name, the chain is refused after the cap, not walked to its end.
        var chainHops = 0
        let chain = message.withUnsafeBytes { raw in
            Result { () throws(DNSDecodeError) in try DNSName.read(raw, at: top, hops: &chainHops) }
        }
        guard case .failure(let error) = chain else { return XCTFail("the chain was read") }
        XCTAssertEqual(error, .tooManyPointers)
        XCTAssertEqual(chainHops, DNSName.maxPointers)
    }

    /// Random messages, and random corruptions of a valid query, never crash the decoder
    /// and never decode into something inconsistent (a seeded generator: reproducible).
    func testRandomBytesNeverCrashTheDecoder() {
        var rng = SplitMix64(seed: 7)
        let valid = DNSTestMessages.query("webapp.production.svc.cluster.local", edns: DNSTestMessages.opt())
        var decoded = 0
        for round in 0..<20_000 {
            var message: [UInt8]
            if round % 2 == 0 {
                let count = Int(rng.next() % 80)
                message = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if count > 5, round % 4 == 0 { message[2] &= 0x7f; message[4] = 0; message[5] = 1 }  // pass the first checks
            } else {
                message = valid
                for _ in 0..<(1 + rng.next() % 3) {
                    message[Int(rng.next() % UInt64(message.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            if let q = try? DNSQuery.decode(message) {
                decoded += 1
                XCTAssertLessThanOrEqual(q.questionEnd, message.count)
                XCTAssertLessThanOrEqual(q.question.name.text.count, 254)
            }
        }
        XCTAssertGreaterThan(decoded, 0)
    }
}
