import Foundation
import Glibc
import XCTest
import CausewayHTTP

/// The sidecar forwarding h2c to a real nghttpd, driven by real clients (curl, nghttp, h2load).
final class ForwardingTests: XCTestCase {
    var dir: TempDir!
    var backend: NghttpdBackend!
    var sidecar: CausewaySidecar!

    override func setUpWithError() throws {
        dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hello from the backend\n")
        backend = try NghttpdBackend(docroot: dir.path("www"), extra: ["--trailer=x-backend-trailer: done"])
        sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]])
    }

    override func tearDown() {
        sidecar?.stop()
        backend?.stop()
    }

    func curl(_ args: [String]) throws -> CommandResult {
        try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--max-time", "60"] + args)
    }

    func testGetThroughEveryNameForm() throws {
        for host in ["backend", "backend.default", "backend.default.svc", "backend.default.svc.cluster.local",
                     "backend.default.svc.cluster.local:8080", "BACKEND.Default"] {
            let r = try curl(["-H", "host: \(host)", sidecar.url("/hello")])
            XCTAssertEqual(r.stdoutText, "hello from the backend\n", "host \(host): \(r.stderr)")
        }
    }

    func testTenMiBDownloadIsByteExact() throws {
        let original = try dir.randomFile("www/big.bin", size: 10 << 20, seed: 7)
        let out = dir.path("download.bin")
        let r = try curl(["-H", "host: backend", "-o", out, sidecar.url("/big.bin")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), original)
    }

    func testTenMiBUploadIsEchoedByteExact() throws {
        let original = try dir.randomFile("upload.bin", size: 10 << 20, seed: 9)
        let out = dir.path("echo.bin")
        let r = try curl(["-H", "host: backend", "--data-binary", "@" + dir.path("upload.bin"), "-o", out, sidecar.url("/echo")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), original)
    }

    func testResponseTrailersArrive() throws {
        let r = try runCommand("nghttp", ["-v", "-H", ":authority: backend", sidecar.url("/hello")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdoutText.contains("x-backend-trailer: done"), r.stdoutText)
        // The trailer is a HEADERS frame after the DATA, carrying END_STREAM.
        let dataIndex = try XCTUnwrap(r.stdoutText.range(of: "recv DATA frame"))
        let trailerIndex = try XCTUnwrap(r.stdoutText.range(of: "x-backend-trailer: done"))
        XCTAssertLessThan(dataIndex.lowerBound, trailerIndex.lowerBound)
    }

    func testRequestTrailersReachTheBackend() throws {
        backend.stop()
        backend = try NghttpdBackend(docroot: dir.path("www"), extra: ["-v"])
        sidecar.stop()
        sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]])
        try dir.write("body.txt", "some request body")
        let r = try runCommand("nghttp", ["-d", dir.path("body.txt"), "--trailer=x-client-trailer: sent",
                                          "-H", ":authority: backend", sidecar.url("/hello")])
        XCTAssertEqual(r.status, 0, r.stderr)
        usleep(200_000)
        XCTAssertTrue(backend.process.log.contains("x-client-trailer: sent"), backend.process.log)
    }

    func testThousandConcurrentStreamsOnTenConnections() throws {
        let r = try runCommand("h2load", ["-n", "5000", "-c", "10", "-m", "100", "-t", "1", "-H", ":authority: backend", sidecar.url("/hello")], timeout: 180)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdoutText.contains("5000 succeeded, 0 failed, 0 errored"), r.stdoutText)
        XCTAssertTrue(r.stdoutText.contains("status codes: 5000 2xx"), r.stdoutText)
    }

    func testMetricsCountRequestsWithClusterLabel() throws {
        for _ in 0..<3 { _ = try curl(["-H", "host: backend", sidecar.url("/hello")]) }
        _ = try curl(["-H", "host: nowhere", sidecar.url("/hello")])
        let metrics = try sidecar.admin("/metrics")
        XCTAssertTrue(metrics.contains(#"causeway_requests_total{cluster="test-cluster",service="backend.default",upstream_cluster="test-cluster",code="200"} 3"#), metrics)
        XCTAssertTrue(metrics.contains(#"causeway_requests_total{cluster="test-cluster",service="",upstream_cluster="",code="404"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"causeway_request_duration_seconds_count{cluster="test-cluster",service="backend.default"} 3"#), metrics)
        XCTAssertTrue(metrics.contains(#"causeway_request_duration_seconds_bucket{cluster="test-cluster",service="backend.default",le="+Inf"} 3"#), metrics)
        for line in metrics.split(separator: "\n") where !line.hasPrefix("#") {
            XCTAssertTrue(line.contains(#"cluster="test-cluster""#), "series without cluster label: \(line)")
        }
        XCTAssertEqual(try sidecar.admin("/ready"), "ready\n")
        XCTAssertEqual(try sidecar.admin("/live"), "live\n")
        let config = try sidecar.admin("/config")
        XCTAssertTrue(config.contains("test-cluster"), config)
        XCTAssertTrue(config.contains("backend"), config)
    }

    /// A client that half-closes after sending its request still gets the response.
    func testHalfClosedClientStillGetsItsResponse() throws {
        let client = try H2TestPeer.connect(port: sidecar.port)
        let id = client.session.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "backend"), (":path", "/hello")]), body: nil)
        try client.flush()
        client.shutdownWrite()
        XCTAssertTrue(try client.pump(seconds: 10) { client.closed[id] != nil }, client.events.joined(separator: ", "))
        XCTAssertEqual(client.statuses[id], 200)
        XCTAssertEqual(client.receivedBody[id], "hello from the backend\n".utf8.count)
    }
}
