import Foundation
import XCTest

/// A lost link makes its mirrored services fail fast; a recovered one brings them back.
final class LinkProbeTests: XCTestCase {
    func testLostGatewayFailsFastAndRecovers() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hello\n")
        let mesh = try TwoClusterMesh(dir: dir, docroot: dir.path("www"),
                                      probe: "{ period: 200ms, timeout: 150ms, failureThreshold: 2 }")
        defer { mesh.stop() }
        func request() throws -> (code: String, reason: String) {
            let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "--max-time", "10",
                                            "-H", "host: webapp-cluster2", mesh.sidecarURL + "/hello"])
            let lines = r.stdoutText.lowercased().split(separator: "\r\n")
            let code = lines.first.map { String($0.split(separator: " ").dropFirst().first ?? "") } ?? ""
            let reason = lines.first { $0.hasPrefix("x-causeway-reason:") }.map { String($0.dropFirst(18)).trimmingCharacters(in: .whitespaces) } ?? ""
            return (code, reason)
        }
        XCTAssertEqual(try request().code, "200")

        mesh.stopGateway()
        try waitFor(seconds: 10) { mesh.sidecar.log.contains("is down") }
        let down = try request()
        XCTAssertEqual(down.code, "503")
        XCTAssertEqual(down.reason, "no-healthy-upstream")
        XCTAssertTrue(try mesh.admin(mesh.sidecarAdminPort, "/endpoints").contains("\"webapp-cluster2.production\""))

        try mesh.startGateway()
        try waitFor(seconds: 10) { mesh.sidecar.log.contains("reachable again") }
        XCTAssertEqual(try request().code, "200")
    }

    private func waitFor(seconds: Double, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() && Date() < deadline { usleep(50_000) }
        if !condition() { throw HarnessError("condition not met within \(seconds) s") }
    }
}
