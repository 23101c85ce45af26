import Foundation
import Glibc
import XCTest

/// The full chain: curl/h2load → cluster1 sidecar (h2c) → mTLS HTTP/2 → cluster2 gateway →
/// nghttpd, with certificates from the project's own tooling.
final class CrossClusterTests: XCTestCase {
    var dir: TempDir!
    var mesh: TwoClusterMesh!

    override func setUpWithError() throws {
        dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hello from cluster2\n")
        mesh = try TwoClusterMesh(dir: dir, docroot: dir.path("www"), backendArgs: ["-v"])
    }

    override func tearDown() { mesh?.stop() }

    func curl(_ args: [String]) throws -> CommandResult {
        try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--max-time", "60"] + args)
    }

    func testRequestCrossesWithVerifiedIdentities() throws {
        let r = try curl(["-H", "host: webapp-cluster2", "-H", "x-forwarded-client-cert: By=forged;URI=forged", mesh.sidecarURL + "/hello"])
        XCTAssertEqual(r.stdoutText, "hello from cluster2\n", r.stderr + mesh.sidecar.log + mesh.gateway.log)
        let log = mesh.backend.process.log
        // The gateway names itself and the verified caller, and drops what the caller sent.
        XCTAssertTrue(log.contains("x-forwarded-client-cert: By=\(MeshPKI.gatewayID);URI=\(MeshPKI.sidecarID)"), log)
        XCTAssertFalse(log.contains("forged"), log)
        // The gateway saw the Service's name in its own cluster.
        XCTAssertTrue(log.contains(":authority: webapp.production"), log)
    }

    func testEveryNameFormOfTheMirrorResolves() throws {
        for host in ["webapp-cluster2", "webapp-cluster2.production", "webapp-cluster2.production.svc.cluster.local:80"] {
            let r = try curl(["-H", "host: \(host)", mesh.sidecarURL + "/hello"])
            XCTAssertEqual(r.stdoutText, "hello from cluster2\n", host)
        }
        // Static mirror files keep working, say so, and win over the export stream the Link
        // also brings (which the gateway publishes for the same service).
        let deadline = Date().addingTimeInterval(10)
        var endpoints: [String: Any] = [:]
        repeat {
            let body = try mesh.admin(mesh.sidecarAdminPort, "/endpoints")
            endpoints = (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
            if (endpoints["notes"] as? [String] ?? []).isEmpty == false { break }
            usleep(50_000)
        } while Date() < deadline
        let services = endpoints["services"] as? [[String: Any]] ?? []
        let webapp = services.first { $0["service"] as? String == "webapp-cluster2.production" }
        XCTAssertEqual(webapp?["table"] as? String, "mirrored-from-files", "\(endpoints)")
        XCTAssertTrue((endpoints["notes"] as? [String] ?? []).contains {
            $0.contains("webapp-cluster2.production is kept from static EndpointSlice files")
        }, "\(endpoints)")
    }

    func testLargeBodiesBothWaysAreByteExact() throws {
        let download = try dir.randomFile("www/big.bin", size: 10 << 20, seed: 3)
        let r1 = try curl(["-H", "host: webapp-cluster2", "-o", dir.path("dl.bin"), mesh.sidecarURL + "/big.bin"])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.path("dl.bin"))), download)
        let upload = try dir.randomFile("up.bin", size: 10 << 20, seed: 5)
        let r2 = try curl(["-H", "host: webapp-cluster2", "--data-binary", "@" + dir.path("up.bin"), "-o", dir.path("echo.bin"), mesh.sidecarURL + "/echo"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.path("echo.bin"))), upload)
    }

    func testLoadThroughTheChainLosesNothing() throws {
        let r = try runCommand("h2load", ["-n", "3000", "-c", "10", "-m", "20", "-t", "1", "-H", ":authority: webapp-cluster2",
                                          mesh.sidecarURL + "/hello"], timeout: 180)
        XCTAssertTrue(r.stdoutText.contains("3000 succeeded, 0 failed, 0 errored"), r.stdoutText)
        let metrics = try mesh.admin(mesh.sidecarAdminPort, "/metrics")
        let handshakes = metrics.split(separator: "\n").first { $0.hasPrefix(#"causeway_tls_handshakes_total{cluster="cluster1",side="upstream"}"#) }
        let count = handshakes.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        // Pooled and multiplexed: a handful of connections carry 3,000 requests.
        XCTAssertGreaterThan(count, 0, metrics)
        XCTAssertLessThan(count, 100, metrics)
    }

    /// Unexported and nonexistent services look the same from outside: 403 not-exported.
    func testGatewayAdmitsOnlyExportedServicesAndRevealsNothing() throws {
        var bodies: [String] = []
        for host in ["secret-cluster2", "ghost-cluster2"] {
            let r = try curl(["-D", "-", "-H", "host: \(host)", mesh.sidecarURL + "/hello"])
            XCTAssertTrue(r.stdoutText.lowercased().contains("http/2 403"), r.stdoutText)
            XCTAssertTrue(r.stdoutText.lowercased().contains("x-causeway-reason: not-exported"), r.stdoutText)
            bodies.append(String(r.stdoutText.split(separator: "\r\n\r\n", maxSplits: 1).last ?? ""))
        }
        XCTAssertEqual(bodies[0], bodies[1])
    }

    func testClientsThatAreNotTheMeshAreRefusedAtTheHandshake() throws {
        let pki = mesh.pki
        try pki.issueClient("expired", spiffeID: MeshPKI.sidecarID,
                            validity: .init(notBefore: Date().addingTimeInterval(-86400 * 10), notAfter: Date().addingTimeInterval(-86400)))
        try pki.issueClient("nosan", spiffeID: nil)
        try pki.issueClient("foreign", spiffeID: "spiffe://other.example/ns/default/sa/intruder")
        let impostor = try pki.foreignClient(dir: dir)
        let cases: [(String, [String])] = [
            ("certificate-expired", ["--cert", pki.chain("cluster1", "expired"), "--key", pki.key("cluster1", "expired")]),
            ("no-spiffe-id", ["--cert", pki.chain("cluster1", "nosan"), "--key", pki.key("cluster1", "nosan")]),
            ("foreign-trust-domain", ["--cert", pki.chain("cluster1", "foreign"), "--key", pki.key("cluster1", "foreign")]),
            ("unknown-ca", ["--cert", impostor.chain, "--key", impostor.key]),
            ("no-peer-certificate", []),
        ]
        for (reason, args) in cases {
            let r = try runCommand("curl", ["-sS", "-k", "--http2", "--max-time", "10", "-H", "host: webapp.production"] + args + [mesh.gatewayURL + "/hello"])
            XCTAssertNotEqual(r.status, 0, "\(reason): curl should fail, got \(r.stdoutText)")
            XCTAssertFalse(r.stdoutText.contains("hello from cluster2"), reason)
        }
        // Plaintext HTTP/2 and HTTP/1.1 on the TLS port.
        let h2c = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--max-time", "10", "http://127.0.0.1:\(mesh.gatewayPort)/hello"])
        XCTAssertNotEqual(h2c.status, 0)
        let h1 = try runCommand("curl", ["-sS", "--http1.1", "--max-time", "10", "http://127.0.0.1:\(mesh.gatewayPort)/hello"])
        XCTAssertNotEqual(h1.status, 0)
        // Garbage and truncated records.
        try RawSocket.sendAndClose(port: mesh.gatewayPort, bytes: [0x16, 0x03, 0x01, 0x40, 0x00] + Array(repeating: 0x5A, count: 200))
        try RawSocket.sendAndClose(port: mesh.gatewayPort, bytes: [0x17, 0x03, 0x03, 0xFF, 0xFF, 1, 2, 3])
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            try RawSocket.sendAndClose(port: mesh.gatewayPort, bytes: (0..<Int.random(in: 1...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }

        XCTAssertTrue(mesh.gateway.process.isRunning, mesh.gateway.log)
        // The gateway still serves the mesh.
        let good = try curl(["-H", "host: webapp-cluster2", mesh.sidecarURL + "/hello"])
        XCTAssertEqual(good.stdoutText, "hello from cluster2\n")
        // Each refusal was counted by reason.
        let metrics = try mesh.admin(mesh.gatewayAdminPort, "/metrics")
        for (reason, _) in cases {
            XCTAssertTrue(metrics.contains("side=\"downstream\",reason=\"\(reason)\""), "\(reason) not counted:\n\(metrics)")
        }
        XCTAssertTrue(metrics.contains("reason=\"not-tls\""), metrics)
        XCTAssertTrue(mesh.gateway.log.contains("certificate-expired"), mesh.gateway.log)
    }
}

final class IdentityMismatchTests: XCTestCase {
    func testSidecarRefusesAGatewayThatIsNotTheLinkedIdentity() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hello\n")
        let mesh = try TwoClusterMesh(dir: dir, docroot: dir.path("www"),
                                      expectedGatewayID: "spiffe://mesh.local/ns/mesh-system/sa/someone-else")
        defer { mesh.stop() }
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-D", "-", "-H", "host: webapp-cluster2", mesh.sidecarURL + "/hello"])
        XCTAssertTrue(r.stdoutText.lowercased().contains("http/2 503"), r.stdoutText)
        XCTAssertTrue(r.stdoutText.lowercased().contains("x-causeway-reason: upstream-identity-mismatch"), r.stdoutText)
        let metrics = try mesh.admin(mesh.sidecarAdminPort, "/metrics")
        XCTAssertTrue(metrics.contains(#"side="upstream",reason="identity-mismatch""#), metrics)
    }
}
