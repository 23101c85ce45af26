import XCTest
@testable import CausewayLoop

final class LogEscapingTests: XCTestCase {
    private func escape(_ bytes: [UInt8], limit: Int = .max) -> String {
        var line: [UInt8] = []
        bytes.withUnsafeBytes { _ = LogEscaping.appendEscaped($0, to: &line, limit: limit) }
        return String(decoding: line, as: UTF8.self)
    }

    func testControlCharactersCannotStartANewLine() {
        let forged = "refused\ncauseway[worker 0]: all good\r\t\u{1B}[31m\u{7F}\u{0}"
        let escaped = LogEscaping.escaped(forged)
        XCTAssertEqual(escaped, #"refused\ncauseway[worker 0]: all good\r\t\x1b[31m\x7f\x00"#)
        XCTAssertFalse(escaped.utf8.contains { $0 < 0x20 || $0 == 0x7F })
    }

    func testBackslashIsEscapedSoEscapesAreUnambiguous() {
        XCTAssertEqual(LogEscaping.escaped(#"a\x0ab"#), #"a\\x0ab"#)
    }

    func testPlainTextAndWellFormedNonASCIIAreUntouched() {
        let text = "upstream 10.0.0.7:8443 failed: café ✓ 日本 😀"
        XCTAssertEqual(LogEscaping.escaped(text), text)
    }

    func testInvalidUTF8IsEscapedByteByByte() {
        // Stray continuation, lead byte followed by ASCII, overlong NUL, surrogate, above
        // U+10FFFF, and a sequence cut short by the end.
        let bytes: [UInt8] = [0x66, 0x80, 0xC3, 0x28, 0xC0, 0x80, 0xED, 0xA0, 0x80, 0xF4, 0x90, 0x80, 0x80, 0xE2, 0x82]
        XCTAssertEqual(escape(bytes), #"f\x80\xc3(\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82"#)
    }

    func testC1ControlsLineSeparatorsAndBidiOverridesAreEscaped() {
        XCTAssertEqual(LogEscaping.escaped("a\u{85}b\u{2028}c\u{202E}d\u{9B}"), #"a\xc2\x85b\xe2\x80\xa8c\xe2\x80\xaed\xc2\x9b"#)
    }

    func testLongMessagesAreCutAtABoundaryAndMarked() {
        XCTAssertEqual(escape(Array("0123456789".utf8), limit: 10), "0123456789", "an exact fit is not cut")
        XCTAssertEqual(escape(Array("0123456789A".utf8), limit: 10), "0123456...")
        // An escape is never split: "\x01" is four bytes and does not fit after "0123".
        XCTAssertEqual(escape(Array("0123\u{1}56789".utf8), limit: 10), "0123...")
        XCTAssertEqual(escape(Array("01234é6789".utf8), limit: 8), "01234...")
        let long = escape([UInt8](repeating: 0x0A, count: 5000), limit: 2048)
        XCTAssertLessThanOrEqual(long.utf8.count, 2048)
        XCTAssertTrue(long.hasSuffix("..."))
    }
}
