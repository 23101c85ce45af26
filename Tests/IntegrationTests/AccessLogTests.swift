import Foundation
import XCTest

/// The per-request access log: one JSON line per request on listeners that ask for it.
final class AccessLogTests: XCTestCase {
    /// Access log lines of `log` (diagnostic lines start with `causeway`).
    private func accessLines(_ log: String) -> [[String: Any]] {
        log.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
    }

    func testEachRequestWritesOneJSONLineWithItsOutcome() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/index.html", "hello\n")
        let backend = try NghttpdBackend(docroot: dir.path("www"))
        defer { backend.stop() }
        let sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]], workers: 1, accessLog: true)
        defer { sidecar.stop() }

        for (host, path) in [("backend", "/index.html"), ("nothing", "/x\"y")] {
            _ = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-H", "host: \(host)", sidecar.url(path)])
        }
        var lines: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            lines = accessLines(sidecar.process.log)
            if lines.count >= 2 { break }
            usleep(100_000)
        }
        XCTAssertEqual(lines.count, 2, sidecar.process.log)
        guard lines.count == 2 else { return }
        let ok = lines[0], missing = lines[1]
        XCTAssertEqual(ok["status"] as? Int, 200)
        XCTAssertEqual(ok["authority"] as? String, "backend")
        XCTAssertEqual(ok["path"] as? String, "/index.html")
        XCTAssertEqual(ok["method"] as? String, "GET")
        XCTAssertEqual(ok["listener"] as? String, "outbound")
        XCTAssertEqual(ok["cluster"] as? String, "test-cluster")
        XCTAssertEqual(ok["upstream"] as? String, "127.0.0.1:\(backend.port)")
        XCTAssertEqual(ok["upstream_cluster"] as? String, "test-cluster")
        // Not captured: a client that called the listener itself.
        XCTAssertTrue(ok["original_destination"] is NSNull, "\(ok)")
        XCTAssertEqual(ok["response_bytes"] as? Int, 6, "\(ok)")
        XCTAssertEqual(missing["status"] as? Int, 404)
        XCTAssertEqual(missing["reason"] as? String, "no-route")
        XCTAssertEqual(missing["path"] as? String, "/x\"y")
        XCTAssertTrue(missing["upstream"] is NSNull, "\(missing)")
    }

    func testListenersWithoutAccessLogWriteNone() throws {
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: [:], workers: 1)
        defer { sidecar.stop() }
        _ = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-H", "host: nothing", sidecar.url("/")])
        usleep(300_000)
        XCTAssertTrue(accessLines(sidecar.process.log).isEmpty, sidecar.process.log)
    }
}
