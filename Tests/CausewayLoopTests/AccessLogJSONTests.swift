import Foundation
import XCTest
@testable import CausewayLoop

final class AccessLogJSONTests: XCTestCase {
    private func render(_ record: AccessLogRecord) -> [UInt8] {
        var line: [UInt8] = []
        AccessLogJSON.render(record, into: &line)
        return line
    }

    private func parse(_ line: [UInt8]) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(line))
        return try XCTUnwrap(object as? [String: Any])
    }

    func testHostileFieldsRenderAsOneValidJSONLine() throws {
        let hostilePath = "/a\"b\\c\nd\r\t\u{1}\u{1F}\u{7F} é 日本 😀 \u{2028}\u{85}"
        var pathBytes = Array(hostilePath.utf8)
        pathBytes += [0xFF, 0xC3]  // Not UTF-8.
        let record = AccessLogRecord(
            timeUnixNanos: 1_795_000_000_500_000_000, cluster: "pay\"ments", listener: "in\\bound",
            peerIdentity: "spiffe://mesh/ns/a/sa/b", method: Array("GET".utf8), authority: Array("x\ny".utf8),
            path: pathBytes, status: 503, reason: "no-healthy-upstream", upstream: "10.0.0.7:8443",
            requestBytes: 12, responseBytes: UInt64.max, durationNanos: 1_834_999
        )
        let line = render(record)
        XCTAssertEqual(line.last, 0x0A)
        XCTAssertEqual(line.filter { $0 == 0x0A }.count, 1, "exactly one newline, at the end")
        XCTAssertFalse(line.dropLast().contains { $0 < 0x20 || $0 == 0x7F })

        let json = try parse(line)
        XCTAssertEqual(json["time"] as? String, "2026-11-18T11:06:40.500Z")
        XCTAssertEqual(json["cluster"] as? String, "pay\"ments")
        XCTAssertEqual(json["listener"] as? String, "in\\bound")
        XCTAssertEqual(json["peer"] as? String, "spiffe://mesh/ns/a/sa/b")
        XCTAssertEqual(json["method"] as? String, "GET")
        XCTAssertEqual(json["authority"] as? String, "x\ny")
        XCTAssertEqual(json["path"] as? String, hostilePath + "\u{FFFD}\u{FFFD}")
        XCTAssertEqual(json["status"] as? Int, 503)
        XCTAssertEqual(json["reason"] as? String, "no-healthy-upstream")
        XCTAssertEqual(json["upstream"] as? String, "10.0.0.7:8443")
        XCTAssertEqual((json["request_bytes"] as? NSNumber)?.uint64Value, 12)
        XCTAssertEqual((json["response_bytes"] as? NSNumber)?.uint64Value, UInt64.max)
        XCTAssertEqual(json["duration_us"] as? Int, 1834)
        XCTAssertTrue(String(decoding: line, as: UTF8.self).contains(#"\u2028\u0085"#))
    }

    func testACapturedConnectionsOriginalDestinationIsRecorded() throws {
        var record = AccessLogRecord(
            timeUnixNanos: 0, cluster: "c", listener: "outbound", peerIdentity: nil,
            method: "GET", authority: "web", path: "/", status: 200, reason: nil, upstream: "10.0.0.7:8080",
            requestBytes: 0, responseBytes: 0, durationNanos: 0
        )
        record.originalDestination = "240.240.0.1:80"
        let json = try parse(render(record))
        XCTAssertEqual(json["original_destination"] as? String, "240.240.0.1:80")
        record.originalDestination = "[fd00::1]:80"
        XCTAssertEqual(try parse(render(record))["original_destination"] as? String, "[fd00::1]:80")
        record.originalDestination = nil
        XCTAssertTrue(try parse(render(record))["original_destination"] is NSNull)
    }

    func testAbsentValuesAreNull() throws {
        let line = render(AccessLogRecord(
            timeUnixNanos: 0, cluster: "", listener: "l", peerIdentity: nil,
            method: "POST", authority: "a", path: "/", status: 0, reason: nil, upstream: nil,
            requestBytes: 0, responseBytes: 0, durationNanos: 0
        ))
        XCTAssertEqual(
            String(decoding: line, as: UTF8.self),
            #"{"time":"1970-01-01T00:00:00.000Z","cluster":"","listener":"l","peer":null,"original_destination":null,"method":"POST","authority":"a","path":"/","status":0,"reason":null,"upstream":null,"upstream_cluster":null,"request_bytes":0,"response_bytes":0,"duration_us":0}"# + "\n"
        )
    }

    func testRenderingAppendsToTheCallersBuffer() {
        var line = Array("prefix ".utf8)
        let record = AccessLogRecord(
            timeUnixNanos: 0, cluster: "c", listener: "l", peerIdentity: nil,
            method: "GET", authority: "a", path: "/", status: 200, reason: nil, upstream: nil,
            requestBytes: 0, responseBytes: 0, durationNanos: 0
        )
        AccessLogJSON.render(record, into: &line)
        XCTAssertTrue(String(decoding: line, as: UTF8.self).hasPrefix("prefix {\"time\""))
    }

    func testTimestampsMatchFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var samples: [UInt64] = [0, 951_782_400_123_000_000, 4_102_444_799_999_000_000, 1_709_164_800_000_000_000]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 { samples.append(UInt64.random(in: 0..<8_000_000_000, using: &generator) * 1_000_000) }
        for nanos in samples {
            var line: [UInt8] = []
            AccessLogJSON.appendTimestamp(unixNanos: nanos, to: &line)
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(nanos / 1_000_000) / 1000))
            XCTAssertEqual(String(decoding: line, as: UTF8.self), expected, "at \(nanos)")
        }
    }

    func testDecimals() {
        for value: UInt64 in [0, 9, 10, 99, 100, 1_234_567, UInt64.max] {
            var line: [UInt8] = []
            LogDigits.appendDecimal(value, to: &line)
            XCTAssertEqual(String(decoding: line, as: UTF8.self), String(value))
        }
        var padded: [UInt8] = []
        LogDigits.appendPadded(7, width: 3, to: &padded)
        LogDigits.appendPadded(12345, width: 2, to: &padded)
        XCTAssertEqual(String(decoding: padded, as: UTF8.self), "00712345")
    }

    func testRealtimeClockIsNearFoundationsClock() {
        let ours = Double(LogClock.realtimeNanos()) / 1e9
        XCTAssertEqual(ours, Date().timeIntervalSince1970, accuracy: 5)
    }
}
