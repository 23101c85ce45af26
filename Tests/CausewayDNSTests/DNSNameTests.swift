import XCTest
@testable import CausewayDNS

final class DNSNameTests: XCTestCase {
    /// Reads the name at `offset` of `message`.
    private func read(_ message: [UInt8], at offset: Int = 12) throws -> (name: DNSName, next: Int) {
        let result = message.withUnsafeBytes { raw in
            Result { () throws(DNSDecodeError) in try DNSName.read(raw, at: offset) }
        }
        return try result.get()
    }

    private func expect(_ message: [UInt8], at offset: Int = 12, _ error: DNSDecodeError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try read(message, at: offset), file: file, line: line) {
            XCTAssertEqual($0 as? DNSDecodeError, error, file: file, line: line)
        }
    }

    private let header = [UInt8](repeating: 0, count: 12)

    func testReadsLabelsLowercasedWithoutTrailingDot() throws {
        let message = header + DNSTestMessages.name("WebApp.Production.SVC.cluster.local")
        let (name, next) = try read(message)
        XCTAssertEqual(name.description, "webapp.production.svc.cluster.local")
        XCTAssertTrue(name.isHostname)
        XCTAssertEqual(next, message.count)
    }

    func testRootNameIsEmptyAndNotAHostname() throws {
        let (name, next) = try read(header + [0])
        XCTAssertEqual(name.text, [])
        XCTAssertFalse(name.isHostname)
        XCTAssertEqual(next, 13)
    }

    func testLabelWithADotOrOtherBytesIsNotAHostname() throws {
        // One label "a.b" (possible on the wire): must not be read as two labels.
        let dotted = header + [3, UInt8(ascii: "a"), UInt8(ascii: "."), UInt8(ascii: "b"), 0]
        XCTAssertFalse(try read(dotted).name.isHostname)
        let colon = header + [6] + Array("web:80".utf8) + [0]
        XCTAssertFalse(try read(colon).name.isHostname)
        let space = header + [3] + Array("a b".utf8) + [0]
        XCTAssertFalse(try read(space).name.isHostname)
        let high = header + [2, 0xc3, 0xa9, 0]
        XCTAssertFalse(try read(high).name.isHostname)
        XCTAssertTrue(try read(header + DNSTestMessages.name("_http._tcp.web-app.x1")).name.isHostname)
    }

    func testLabelOf63BytesIsReadAnd64IsRefused() throws {
        let long = String(repeating: "a", count: 63)
        XCTAssertEqual(try read(header + DNSTestMessages.name(long)).name.text.count, 63)
        // 64 = 0x40: the reserved extended-label bits.
        expect(header + [64] + [UInt8](repeating: 97, count: 64) + [0], .badLabelType)
        expect(header + [0x80, 0], .badLabelType)
    }

    func testNameOf255WireBytesIsReadAnd256IsRefused() throws {
        // 4 labels of 63 = 256 bytes with length octets, + root = 257: too long.
        let label = String(repeating: "b", count: 63)
        expect(header + DNSTestMessages.name([label, label, label, label].joined(separator: ".")), .nameTooLong)
        // 3 × 64 + 62 + 1 = 255: the longest allowed.
        let fits = [label, label, label, String(repeating: "c", count: 61)].joined(separator: ".")
        let (name, _) = try read(header + DNSTestMessages.name(fits))
        XCTAssertEqual(name.text.count, 253)
    }

    func testTruncatedNamesAreRefused() {
        expect(header, .truncated)
        expect(header + [5, 97, 98], .truncated)
        expect(header + [3, 97, 98, 99], .truncated)  // no root label
        expect(header + [0xc0], .truncated)
    }

    func testBackwardPointerIsFollowed() throws {
        // "example.com" at 12, then "www" + pointer to 12.
        var message = header + DNSTestMessages.name("example.com")
        let second = message.count
        message += [3] + Array("www".utf8) + [0xc0, 12]
        let (name, next) = try read(message, at: second)
        XCTAssertEqual(name.description, "www.example.com")
        XCTAssertEqual(next, message.count)
        // A pointer into the middle of a name ("com" at 20).
        message += [0xc0, 20]
        XCTAssertEqual(try read(message, at: message.count - 2).name.description, "com")
    }

    func testPointerToItselfIsALoop() {
        expect(header + [0xc0, 12], .compressionLoop)
    }

    func testForwardPointerIsRefused() {
        expect(header + [0xc0, 14, 0], .compressionLoop)
    }

    func testTwoPointersPointingAtEachOtherAreALoop() {
        // 12: pointer to 14; 14: pointer to 12. The first is forward already; read from 14.
        let message = header + [0xc0, 14, 0xc0, 12]
        expect(message, at: 14, .compressionLoop)
        expect(message, at: 12, .compressionLoop)
    }

    func testLabelThenPointerBackToItsOwnStartIsALoop() {
        // 12: "a", then a pointer back to 12: always backwards from where it sits, but it
        // would repeat the same part forever.
        expect(header + [1, 97, 0xc0, 12], .compressionLoop)
        // The same through a chain: 12 "a" → ptr 16; 16: "b" → ptr 12 (read from 16).
        let chain = header + [1, 97, 0xc0, 16, 1, 98, 0xc0, 12]
        expect(chain, at: 16, .compressionLoop)
    }

    func testPointerIntoHeaderOrPastEndIsOutOfRange() {
        expect(header + [0xc0, 0x00], .pointerOutOfRange)
        expect(header + [0xc0, 11], .pointerOutOfRange)
        expect(header + [1, 97, 0, 0xff, 0xff], at: 15, .pointerOutOfRange)
    }

    /// A chain of `hops` backward pointers: "a" at 12, then `hops` times "a" + a pointer to
    /// the previous part. Returns the message and where its last part starts.
    private func chain(_ hops: Int) -> (message: [UInt8], top: Int) {
        var message = header + [1, 97, 0]
        var previous = 12
        for _ in 0..<hops {
            let here = message.count
            message += [1, 97, 0xc0 | UInt8(previous >> 8), UInt8(previous & 0xff)]
            previous = here
        }
        return (message, previous)
    }

    func testAtMost16PointersAreFollowed() throws {
        let (fits, top) = chain(DNSName.maxPointers)
        XCTAssertEqual(DNSName.maxPointers, 16)
        let (name, next) = try read(fits, at: top)
        XCTAssertEqual(name.text.count, 2 * 17 - 1)
        XCTAssertEqual(next, fits.count)
        let (over, overTop) = chain(DNSName.maxPointers + 1)
        expect(over, at: overTop, .tooManyPointers)
        // A chain of pointers to pointers, no labels: refused at the cap too.
        var bare = header + [0]
        for k in 0..<40 { bare += [0xc0, UInt8(12 + 2 * k - (k == 0 ? 0 : 1))] }
        expect(bare, at: bare.count - 2, .tooManyPointers)
        // A long chain costs the cap, not its length.
        let (long, longTop) = chain(3_000)
        expect(long, at: longTop, .tooManyPointers)
    }

    func testNameThroughPointersIsBoundedByNameLength() {
        // Four labels of 63, each part after the first reached by a pointer: 257 bytes.
        let label = [UInt8(63)] + [UInt8](repeating: 98, count: 63)
        var message = header + label + [0]
        var previous = 12
        for _ in 0..<3 {
            let here = message.count
            message += label + [0xc0, UInt8(previous)]
            previous = here
        }
        expect(message, at: previous, .nameTooLong)
    }

    /// Skips the name at `offset`.
    private func skip(_ message: [UInt8], at offset: Int = 12) throws -> (next: Int, isRoot: Bool) {
        try message.withUnsafeBytes { raw in
            try Result { () throws(DNSDecodeError) in try DNSName.skip(raw, at: offset) }.get()
        }
    }

    func testSkippingANameNeverFollowsItsPointer() throws {
        // "www" + a pointer to a reserved label byte at 12: a pointer ends the name.
        let message = header + [0x40, 0, 3] + Array("www".utf8) + [0xc0, 12]
        XCTAssertEqual(try skip(message, at: 14).next, message.count)
        XCTAssertFalse(try skip(message, at: 14).isRoot)
        XCTAssertEqual(try skip(message, at: 18).next, message.count)
        XCTAssertEqual(try skip(header + [0]).next, 13)
        XCTAssertTrue(try skip(header + [0]).isRoot)
        XCTAssertFalse(try skip(header + DNSTestMessages.name("a.b")).isRoot)
        XCTAssertEqual(try skip(header + DNSTestMessages.name("a.b")).next, 17)
        // What needs no following is still checked.
        for (bad, error) in [(header + [0xc0, 12], DNSDecodeError.compressionLoop), (header + [0xc0, 20], .pointerOutOfRange),
                             (header + [0xc0, 3], .pointerOutOfRange), (header + [0xc0], .truncated), (header + [3, 97], .truncated),
                             (header + [0x80, 0], .badLabelType), (header, .truncated)] {
            XCTAssertThrowsError(try skip(bad)) { XCTAssertEqual($0 as? DNSDecodeError, error, "\(bad)") }
        }
        let label = String(repeating: "c", count: 63)
        XCTAssertThrowsError(try skip(header + DNSTestMessages.name([label, label, label, label].joined(separator: ".")))) {
            XCTAssertEqual($0 as? DNSDecodeError, .nameTooLong)
        }
    }

    func testIsWithin() {
        let name = DNSName("webapp.production.svc.clusterset.local")
        XCTAssertTrue(name.isWithin(Array("svc.clusterset.local".utf8)))
        XCTAssertTrue(name.isWithin(Array("webapp.production.svc.clusterset.local".utf8)))
        XCTAssertFalse(name.isWithin(Array("c.clusterset.local".utf8)))
        XCTAssertFalse(DNSName("xsvc.clusterset.local").isWithin(Array("svc.clusterset.local".utf8)))
    }

    func testTextInitAndWriteRoundTrip() throws {
        let name = DNSName("WebApp.Production.")
        XCTAssertEqual(name.description, "webapp.production")
        XCTAssertTrue(name.isHostname)
        var out = header
        name.write(to: &out)
        XCTAssertEqual(try read(out).name, name)
        var root: [UInt8] = []
        DNSName("").write(to: &root)
        XCTAssertEqual(root, [0])
        XCTAssertFalse(DNSName("a..b").isHostname)
    }
}
