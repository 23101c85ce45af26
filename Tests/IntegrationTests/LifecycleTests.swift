import Foundation
import Glibc
import XCTest

/// Signals: SIGTERM drains in-flight requests; SIGHUP reloads and a broken reload keeps
/// the running configuration.
final class LifecycleTests: XCTestCase {
    func testSigtermLetsInFlightRequestsFinish() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        let original = try dir.randomFile("www/slow.bin", size: 16 << 20)
        let backend = try NghttpdBackend(docroot: dir.path("www"))
        defer { backend.stop() }
        let sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]], workers: 2)
        defer { sidecar.stop() }

        // ~4 s at 4 MB/s, far more than socket buffers and windows hold: the stream is
        // still in flight inside the proxy when SIGTERM arrives.
        let started = Date()
        let download = try TestProcess("curl-slow", executable: "curl", arguments: [
            "-sS", "--http2-prior-knowledge", "--limit-rate", "4M", "-o", dir.path("out.bin"),
            "-H", "host: backend", sidecar.url("/slow.bin"),
        ])
        usleep(500_000)
        kill(sidecar.process.pid, SIGTERM)
        usleep(200_000)
        XCTAssertFalse(Ports.isListening(sidecar.port), "a draining proxy must stop accepting")
        try download.waitForExit()
        XCTAssertEqual(download.exitStatus, 0, download.log)
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 2, "the download should have been slow enough to straddle SIGTERM")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.path("out.bin"))), original)
        try sidecar.process.waitForExit(timeout: 60)
        XCTAssertEqual(sidecar.process.exitStatus, 0, sidecar.process.log)
        XCTAssertTrue(sidecar.process.log.contains("draining"), sidecar.process.log)
    }

    func testSighupReloadsAndABrokenReloadKeepsTheRunningConfig() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hello\n")
        let backend = try NghttpdBackend(docroot: dir.path("www"))
        defer { backend.stop() }
        let sidecar = try CausewaySidecar(dir: dir, services: ["first": [TestEndpoint(port: backend.port)]], workers: 1)
        defer { sidecar.stop() }
        func code(_ host: String) throws -> String {
            try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "-H", "host: \(host)", sidecar.url("/hello")]).stdoutText
        }
        XCTAssertEqual(try code("first"), "200")
        XCTAssertEqual(try code("second"), "404")

        // A good edit: rename the service.
        let config = try String(contentsOfFile: sidecar.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: "service-name: first", with: "service-name: second")
            .write(toFile: sidecar.configPath, atomically: true, encoding: .utf8)
        kill(sidecar.process.pid, SIGHUP)
        try waitFor { sidecar.process.log.contains("reloaded") }
        XCTAssertEqual(try code("second"), "200")
        XCTAssertEqual(try code("first"), "404")

        // A broken edit is reported with file and line; "second" keeps working.
        try (config + "\nbogusTopLevel: 1\n").write(toFile: sidecar.configPath, atomically: true, encoding: .utf8)
        kill(sidecar.process.pid, SIGHUP)
        try waitFor { sidecar.process.log.contains("reload rejected") }
        XCTAssertTrue(sidecar.process.log.contains("causeway.yaml:"), sidecar.process.log)
        XCTAssertEqual(try code("second"), "200")
    }

    private func waitFor(_ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition() && Date() < deadline { usleep(20_000) }
        if !condition() { throw HarnessError("condition not met within 10 s") }
    }
}
