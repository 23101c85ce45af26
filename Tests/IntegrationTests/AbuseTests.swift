import Foundation
import Glibc
import XCTest
import CausewayHTTP

/// A sidecar (one worker unless asked) in front of nghttpd serving `/hello` and a 1 MiB
/// random file, for the abuse tests.
final class AbuseFixture {
    let dir: TempDir
    let backend: NghttpdBackend
    let sidecar: CausewaySidecar
    let oneMiB: Data

    init(workers: Int = 1, backendArgs: [String] = [], extraServices: [String: [TestEndpoint]] = [:], extraProxySpec: String = "") throws {
        dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hi\n")
        oneMiB = try dir.randomFile("www/1m.bin", size: 1 << 20, seed: 7)
        backend = try NghttpdBackend(docroot: dir.path("www"), extra: backendArgs)
        var services = extraServices
        services["backend"] = [TestEndpoint(port: backend.port)]
        sidecar = try CausewaySidecar(dir: dir, services: services, workers: workers, extraProxySpec: extraProxySpec)
    }

    /// GET `path` from the backend through the sidecar with curl: (status, body).
    func get(_ path: String = "/hello", maxTime: Int = 10) throws -> (code: String, body: String) {
        let out = dir.path("get-\(UUID().uuidString)")
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--max-time", String(maxTime), "-o", out, "-w", "%{http_code}",
                                        "-H", "host: backend", sidecar.url(path)], timeout: TimeInterval(maxTime + 5))
        return (r.stdoutText, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    func stop() {
        sidecar.stop()
        backend.stop()
    }
}

/// Clients that try to exhaust the proxy: decompression bombs, half-closed sockets, shut
/// windows, stalled requests, oversized header blocks, rapid resets and connection floods.
/// Each bounds an outcome (alive, answered, memory, CPU), never a speed.
final class AbuseTests: XCTestCase {
    // MARK: 1. HPACK bomb

    /// Ten connections each send a header block that decodes to ~570 MB: the proxy must
    /// bound header memory while decoding, answer each with 431 or a reset/GOAWAY, and
    /// keep serving.
    func testHPACKBombIsRefusedWithinBoundedMemory() throws {
        let f = try AbuseFixture()
        defer { f.stop() }
        XCTAssertEqual(try f.get().body, "hi\n")
        let baseline = try XCTUnwrap(f.sidecar.process.residentBytes())
        // Past 1 GiB the finding is made; stop there rather than exhaust the machine.
        let sampler = PeakRSSSampler(pid: f.sidecar.process.pid, killAbove: baseline + (1 << 30))
        let result = try PythonPeer.run("hpack_bomb.py", ["--port", String(f.sidecar.port), "--connections", "10", "--wait", "11"], timeout: 60)
        let peak = sampler.stop()
        let growth = peak - baseline
        print("hpack bomb: RSS baseline \(baseline >> 20) MiB, peak \(peak >> 20) MiB\(sampler.killed ? " (killed at the 1 GiB guard)" : ""); \(result)")

        XCTAssertFalse(sampler.killed, "RSS passed baseline + 1 GiB; the test killed the proxy")
        XCTAssertTrue(f.sidecar.process.process.isRunning, "the proxy died:\n\(f.sidecar.process.log.suffix(2000))")
        XCTAssertLessThan(growth, 64 << 20, "RSS grew by \(growth >> 20) MiB while decoding 10 HPACK bombs")
        let connections = result.list("connections")
        XCTAssertEqual(connections.count, 10)
        for (i, c) in connections.enumerated() {
            let outcome = c.string("outcome") ?? "?"
            let answered = (outcome == "status" && c.string("status") == "431") || outcome == "rst" || outcome == "goaway"
            XCTAssertTrue(answered, "bomb connection \(i): expected 431, RST_STREAM or GOAWAY, got \(c)")
            XCTAssertLessThan(c.double("elapsed") ?? 99, 10, "bomb connection \(i) waited too long for its outcome: \(c)")
        }
        guard f.sidecar.process.process.isRunning else { return }
        XCTAssertEqual(try f.get(maxTime: 5).body, "hi\n", "the proxy stopped serving after the bombs")
    }

    // MARK: 2. Half-closed clients

    /// A client that sent its request and shut down its write side, while its response is
    /// held upstream: the proxy must not spin on the FIN.
    func testHalfClosedClientWaitingForAResponseCostsNoCPU() throws {
        let dir = try TempDir()
        let sink = try ScriptedUpstream.sink()
        let sidecar = try CausewaySidecar(dir: dir, services: ["sink": [TestEndpoint(port: sink.port)]], workers: 1)
        defer { sidecar.stop() }
        let client = try H2TestPeer.connect(port: sidecar.port)
        _ = client.session.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "sink"), (":path", "/slow")]), body: nil)
        try client.pump(seconds: 0.5)
        client.shutdownWrite()
        usleep(300_000)
        let cpu = try XCTUnwrap(ProcStats.cpuUsed(pid: sidecar.process.pid, over: 3))
        print("half-close (held response): sidecar used \(cpu) s CPU in 3 s")
        XCTAssertLessThan(cpu, 0.3, "the proxy used \(cpu) s of CPU in 3 s with one half-closed client waiting")
        XCTAssertTrue(sidecar.process.process.isRunning)
    }

    /// The same with a large response in flight that the client does not read (its window
    /// is shut): the proxy holds data for a half-closed client and must still sleep.
    func testHalfClosedClientWithAStalledDownloadCostsNoCPU() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.randomFile("www/big.bin", size: 8 << 20)
        let backend = try NghttpdBackend(docroot: dir.path("www"))
        defer { backend.stop() }
        let sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]], workers: 1)
        defer { sidecar.stop() }
        let client = try H2TestPeer.connect(port: sidecar.port)
        let id = client.session.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "backend"), (":path", "/big.bin")]), body: nil)
        XCTAssertTrue(try client.pump(seconds: 10, consume: false) { (client.receivedBody[id] ?? 0) > 0 }, client.events.joined(separator: ", "))
        client.shutdownWrite()
        usleep(300_000)
        let cpu = try XCTUnwrap(ProcStats.cpuUsed(pid: sidecar.process.pid, over: 3))
        print("half-close (stalled download): sidecar used \(cpu) s CPU in 3 s")
        XCTAssertLessThan(cpu, 0.3, "the proxy used \(cpu) s of CPU in 3 s with one half-closed, non-reading client")
        XCTAssertTrue(sidecar.process.process.isRunning)
    }

    // MARK: 3. Zero windows

    /// A client with SETTINGS_INITIAL_WINDOW_SIZE=0 holding 40 large responses must not
    /// stall the upstream connection it shares with everyone else on the worker.
    func testZeroWindowClientDoesNotStarveOtherClients() throws {
        let f = try AbuseFixture()
        defer { f.stop() }
        let holder = try PythonPeer.start("zero_window_client.py", ["--port", String(f.sidecar.port), "--path", "/1m.bin",
                                                                    "--streams", "40", "--hold", "25"])
        defer { holder.stop() }
        let ready = try PythonPeer.wait(for: holder, timeout: 10) { $0.bool("ready") }
        print("zero-window holder: \(ready)")
        usleep(1_000_000)  // let the upstream fill whatever the proxy will buffer

        let out = f.dir.path("second.bin")
        let started = Date()
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--max-time", "10", "-o", out, "-w", "%{http_code}",
                                        "-H", "host: backend", f.sidecar.url("/1m.bin")], timeout: 20)
        let elapsed = Date().timeIntervalSince(started)
        print("zero-window: second client got \(r.stdoutText) in \(elapsed) s, \(r.stderr)")
        XCTAssertEqual(r.stdoutText, "200", "second client: \(r.stderr)")
        XCTAssertEqual(try? Data(contentsOf: URL(fileURLWithPath: out)), f.oneMiB, "second client's 1 MiB was not byte-exact (\(r.stderr))")
        XCTAssertLessThan(elapsed, 10)
        XCTAssertTrue(holder.process.isRunning, "the zero-window client should still be holding its streams:\n\(holder.log)")
        XCTAssertFalse(PythonPeer.lines(of: holder).contains { $0.bool("done") }, holder.log)
    }

    // MARK: 4. Stalled requests

    /// `timeouts.streamIdle` ends a request whose body never comes with 408.
    func testStalledRequestBodyGets408RequestTimeout() throws {
        let f = try AbuseFixture(extraProxySpec: "  timeouts: { streamIdle: 2s }")
        defer { f.stop() }
        let r = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--method", "POST", "--path", "/echo",
                                                   "--no-end-stream", "--timeout", "12"])
        print("stalled request: \(r)")
        XCTAssertEqual(r.int("status"), 408, "\(r)")
        XCTAssertEqual(r.string("reason"), "request-timeout", "\(r)")
        let elapsed = r.double("elapsed") ?? 99
        XCTAssertLessThan(elapsed, 8, "\(r)")
        XCTAssertGreaterThan(elapsed, 1, "answered before streamIdle (2s) could have passed: \(r)")
    }

    /// `timeouts.streamIdle` ends a request whose upstream never answers with 504.
    func testUnansweredRequestGets504UpstreamTimeout() throws {
        let sink = try ScriptedUpstream.sink()
        let f = try AbuseFixture(extraServices: ["sink": [TestEndpoint(port: sink.port)]], extraProxySpec: "  timeouts: { streamIdle: 2s }")
        defer { f.stop() }
        let r = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--authority", "sink", "--path", "/never", "--timeout", "12"])
        print("unanswered request: \(r)")
        XCTAssertEqual(r.int("status"), 504, "\(r)")
        XCTAssertEqual(r.string("reason"), "upstream-timeout", "\(r)")
        XCTAssertLessThan(r.double("elapsed") ?? 99, 8, "\(r)")
    }

    // MARK: 7. Header sizes

    /// One 64 KiB header value is over `maxHeaderListSize` (65,536 by default): 431.
    func testOneHugeRequestHeaderGets431() throws {
        let f = try AbuseFixture()
        defer { f.stop() }
        let r = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--path", "/hello", "--big-header", String(64 << 10)])
        print("64 KiB header: \(r)")
        XCTAssertEqual(r.int("status"), 431, "\(r)")
        XCTAssertEqual(r.string("reason"), "header-too-large", "\(r)")
        XCTAssertEqual(try f.get().body, "hi\n")
    }

    /// 100 fields (4 pseudo-headers + 96) pass; 101 are over the field cap: 431.
    func testTooManyRequestHeaderFieldsGet431() throws {
        let f = try AbuseFixture()
        defer { f.stop() }
        let ok = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--path", "/hello", "--filler-headers", "96"])
        XCTAssertEqual(ok.int("status"), 200, "100 fields are within the limit: \(ok)")
        let r = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--path", "/hello", "--filler-headers", "97"])
        print("101 fields: \(r)")
        XCTAssertEqual(r.int("status"), 431, "\(r)")
        XCTAssertNotNil(r.string("reason"), "a proxy-made 431 names its reason: \(r)")
    }

    /// A backend whose response header block is ~100 KiB: the client gets a reset or
    /// 502 upstream-header-too-large, promptly, never the block and never a hang.
    func testHugeResponseHeaderBlockIsNotForwarded() throws {
        let port = Ports.free()
        let server = try PythonPeer.start("big_header_server.py", ["--port", String(port), "--fields", "25", "--field-bytes", "4096"])
        defer { server.stop() }
        _ = try PythonPeer.wait(for: server, timeout: 10) { $0.int("listening") != nil }
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: ["huge": [TestEndpoint(port: port)]], workers: 1)
        defer { sidecar.stop() }
        let r = try PythonPeer.run("h2_client.py", ["--port", String(sidecar.port), "--authority", "huge", "--path", "/", "--timeout", "12"])
        print("huge response headers: \(r)")
        let outcome = r.string("outcome") ?? "?"
        let refused = outcome == "rst" || (r.int("status") == 502 && r.string("reason") == "upstream-header-too-large")
        XCTAssertTrue(refused, "expected a stream reset or 502 upstream-header-too-large, got \(r)")
        XCTAssertLessThan(r.double("elapsed") ?? 99, 10, "\(r)")
        XCTAssertTrue(sidecar.process.process.isRunning, sidecar.process.log)
    }

    // MARK: 8. Rapid reset

    /// 1,000 HEADERS + RST_STREAM pairs on one connection end it with GOAWAY
    /// ENHANCE_YOUR_CALM; other clients keep being served.
    func testRapidResetGetsGoawayEnhanceYourCalm() throws {
        let f = try AbuseFixture()
        defer { f.stop() }
        let r = try PythonPeer.run("rapid_reset.py", ["--port", String(f.sidecar.port), "--path", "/hello", "--pairs", "1000",
                                                     "--burst", "100", "--wait", "10"], timeout: 60)
        print("rapid reset: \(r)")
        XCTAssertTrue(r.bool("goaway"), "no GOAWAY after \(r.int("pairs_sent") ?? 0) HEADERS+RST_STREAM pairs: \(r)")
        XCTAssertEqual(r.int("goaway_code"), 0xb, "GOAWAY should say ENHANCE_YOUR_CALM: \(r)")
        XCTAssertTrue(f.sidecar.process.process.isRunning, f.sidecar.process.log)
        let after = try f.get()
        XCTAssertEqual(after.code, "200")
        XCTAssertEqual(after.body, "hi\n")
    }

    // MARK: 9. Connection cap

    /// `limits.maxConnectionsPerWorker: 100`: the 101st connection is closed at accept and
    /// counted; the first 100 keep working.
    func testConnectionCapClosesTheExtraConnectionAtAccept() throws {
        let f = try AbuseFixture(extraProxySpec: "  limits: { maxConnectionsPerWorker: 100 }")
        defer { f.stop() }
        usleep(300_000)  // the harness's port probes are gone
        let r = try PythonPeer.run("conn_cap.py", ["--port", String(f.sidecar.port), "--connections", "100", "--path", "/hello"], timeout: 60)
        print("connection cap: \(r)")
        XCTAssertEqual(r.int("opened"), 100, "\(r)")
        XCTAssertTrue(["eof", "connreset"].contains(r.string("extra") ?? ""), "the 101st connection was not closed at accept: \(r)")
        XCTAssertLessThan(r.double("extra_elapsed") ?? 99, 3, "\(r)")
        XCTAssertEqual(r.dict("responses")["200"] as? Int, 100, "every accepted connection still serves: \(r)")
        let metrics = try f.sidecar.admin("/metrics")
        let rejected = metrics.split(separator: "\n")
            .filter { $0.hasPrefix("causeway_downstream_connections_rejected_total") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }
            .reduce(0, +)
        XCTAssertGreaterThanOrEqual(rejected, 1, "causeway_downstream_connections_rejected_total missing or 0:\n\(metrics)")
    }
}

/// Headers a client must not be able to smuggle: forged XFCC (in headers or trailers),
/// `host` disagreeing with `:authority`, CONNECT.
final class HeaderPolicyTests: XCTestCase {
    static let forged = "By=spiffe://evil;URI=spiffe://mesh.local/ns/x/sa/admin"

    /// Waits up to 5 s for `text` in `process`'s log.
    func waitForLog(_ process: TestProcess, _ text: String) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if process.log.contains(text) { return true }
            usleep(50_000)
        }
        return process.log.contains(text)
    }

    func occurrences(_ needle: String, in haystack: String) -> Int {
        haystack.components(separatedBy: needle).count - 1
    }

    // MARK: 5. XFCC

    func testClientXFCCNeverReachesALocalBackend() throws {
        let f = try AbuseFixture(backendArgs: ["-v"])
        defer { f.stop() }
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--max-time", "10", "-H", "host: backend",
                                        "-H", "x-forwarded-client-cert: \(Self.forged)", "-H", "x-marker: xfcc-headers", f.sidecar.url("/hello")])
        XCTAssertEqual(r.stdoutText, "hi\n", r.stderr)
        let log = f.backend.process.log
        XCTAssertTrue(log.contains("x-marker: xfcc-headers"), log.suffix(3000).description)
        XCTAssertFalse(log.contains("spiffe://evil"), "the client's forged XFCC reached the backend:\n\(log.suffix(3000))")
    }

    func testXFCCInRequestTrailersIsDroppedBySidecar() throws {
        let f = try AbuseFixture(backendArgs: ["-v"])
        defer { f.stop() }
        let r = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--method", "POST", "--path", "/echo", "--body", "payload",
                                                   "--trailer", "x-checksum: sidecar-trailer", "--trailer", "x-forwarded-client-cert: \(Self.forged)"])
        XCTAssertEqual(r.int("status"), 200, "\(r)")
        let log = f.backend.process.log
        XCTAssertTrue(waitForLog(f.backend.process, "x-checksum: sidecar-trailer"), "the other trailer should arrive:\n\(log.suffix(3000))")
        XCTAssertFalse(f.backend.process.log.contains("spiffe://evil"), "XFCC in trailers reached the backend:\n\(f.backend.process.log.suffix(3000))")
    }

    /// Through the sidecar and straight into the gateway over mTLS (as a mesh peer that
    /// forwards trailers verbatim would): the backend sees the other trailers and exactly
    /// one XFCC per request, the gateway's own, in the headers.
    func testXFCCInRequestTrailersIsDroppedByGateway() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        let mesh = try TwoClusterMesh(dir: dir, docroot: dir.path("www"), backendArgs: ["-v"])
        defer { mesh.stop() }
        let gatewayMade = "x-forwarded-client-cert: By=\(MeshPKI.gatewayID);URI=\(MeshPKI.sidecarID)"

        let viaSidecar = try PythonPeer.run("h2_client.py", [
            "--port", String(mesh.sidecarPort), "--authority", "webapp-cluster2", "--method", "POST", "--path", "/echo", "--body", "payload",
            "--trailer", "x-checksum: via-sidecar", "--trailer", "x-forwarded-client-cert: \(Self.forged)",
        ])
        XCTAssertEqual(viaSidecar.int("status"), 200, "\(viaSidecar)")
        XCTAssertTrue(waitForLog(mesh.backend.process, "x-checksum: via-sidecar"), mesh.backend.process.log.suffix(3000).description)
        var log = mesh.backend.process.log
        XCTAssertEqual(occurrences("x-forwarded-client-cert:", in: log), 1, "one request, one XFCC:\n\(log.suffix(3000))")
        XCTAssertTrue(log.contains(gatewayMade), log.suffix(3000).description)

        let direct = try PythonPeer.run("h2_client.py", [
            "--port", String(mesh.gatewayPort), "--authority", "webapp.production", "--scheme", "https", "--method", "POST", "--path", "/echo",
            "--body", "payload", "--trailer", "x-checksum: direct", "--trailer", "x-forwarded-client-cert: \(Self.forged)",
            "--tls-ca", mesh.pki.rootPath, "--tls-cert", mesh.pki.chain("cluster1", "sidecar"), "--tls-key", mesh.pki.key("cluster1", "sidecar"),
        ])
        XCTAssertEqual(direct.int("status"), 200, "\(direct)")
        XCTAssertTrue(waitForLog(mesh.backend.process, "x-checksum: direct"), mesh.backend.process.log.suffix(3000).description)
        log = mesh.backend.process.log
        XCTAssertEqual(occurrences("x-forwarded-client-cert:", in: log), 2, "two requests, two XFCC (the gateway's):\n\(log.suffix(4000))")
        XCTAssertEqual(occurrences(gatewayMade, in: log), 2, log.suffix(4000).description)
        XCTAssertFalse(log.contains("spiffe://evil"), "XFCC in trailers went through the gateway:\n\(log.suffix(4000))")
    }

    // MARK: 6. host / CONNECT

    func testHostDisagreeingWithAuthorityAndCONNECTAreRefusedBySidecar() throws {
        let f = try AbuseFixture()
        defer { f.stop() }
        let mismatch = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--authority", "backend", "--path", "/hello",
                                                          "--header", "host: other"])
        print("host mismatch: \(mismatch)")
        XCTAssertEqual(mismatch.int("status"), 400, "\(mismatch)")
        XCTAssertEqual(mismatch.string("reason"), "authority-mismatch", "\(mismatch)")
        let connect = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--method", "CONNECT", "--authority", "backend:80",
                                                         "--no-path-scheme", "--no-end-stream", "--timeout", "6"])
        print("CONNECT: \(connect)")
        XCTAssertEqual(connect.int("status"), 405, "\(connect)")
        XCTAssertEqual(connect.string("reason"), "method-not-allowed", "\(connect)")
        // A matching host is fine.
        let same = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--authority", "backend", "--path", "/hello",
                                                      "--header", "host: backend"])
        XCTAssertEqual(same.int("status"), 200, "\(same)")
    }

    func testHostDisagreeingWithAuthorityAndCONNECTAreRefusedByGateway() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hello from cluster2\n")
        let mesh = try TwoClusterMesh(dir: dir, docroot: dir.path("www"))
        defer { mesh.stop() }
        let tls = ["--scheme", "https", "--tls-ca", mesh.pki.rootPath, "--tls-cert", mesh.pki.chain("cluster1", "sidecar"),
                   "--tls-key", mesh.pki.key("cluster1", "sidecar")]
        let control = try PythonPeer.run("h2_client.py", ["--port", String(mesh.gatewayPort), "--authority", "webapp.production", "--path", "/hello"] + tls)
        XCTAssertEqual(control.int("status"), 200, "a well-formed request straight to the gateway: \(control)")

        let mismatch = try PythonPeer.run("h2_client.py", ["--port", String(mesh.gatewayPort), "--authority", "webapp.production", "--path", "/hello",
                                                          "--header", "host: other"] + tls)
        print("gateway host mismatch: \(mismatch)")
        XCTAssertEqual(mismatch.int("status"), 400, "\(mismatch)")
        XCTAssertEqual(mismatch.string("reason"), "authority-mismatch", "\(mismatch)")

        let connect = try PythonPeer.run("h2_client.py", ["--port", String(mesh.gatewayPort), "--method", "CONNECT", "--authority", "webapp.production:80",
                                                         "--no-path-scheme", "--no-end-stream", "--timeout", "6"] + tls)
        print("gateway CONNECT: \(connect)")
        XCTAssertEqual(connect.int("status"), 405, "\(connect)")
        XCTAssertEqual(connect.string("reason"), "method-not-allowed", "\(connect)")

        // And a CONNECT for the mirror through the sidecar.
        let viaSidecar = try PythonPeer.run("h2_client.py", ["--port", String(mesh.sidecarPort), "--method", "CONNECT", "--authority", "webapp-cluster2:80",
                                                            "--no-path-scheme", "--no-end-stream", "--timeout", "6"])
        XCTAssertEqual(viaSidecar.int("status"), 405, "\(viaSidecar)")
        XCTAssertEqual(viaSidecar.string("reason"), "method-not-allowed", "\(viaSidecar)")
    }
}

/// RFC 9113 connection errors the proxy must report with GOAWAY.
final class ConformanceTests: XCTestCase {
    /// §3.4: an invalid preface is a connection error; the server should say so with
    /// GOAWAY before closing.
    func testInvalidPrefaceGetsGoaway() throws {
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: [:], workers: 1)
        defer { sidecar.stop() }
        let r = try PythonPeer.run("conformance.py", ["--port", String(sidecar.port), "--scenario", "bad-preface"])
        print("invalid preface: \(r)")
        XCTAssertTrue(r.bool("goaway"), "no GOAWAY before the close: \(r)")
        XCTAssertTrue(sidecar.process.process.isRunning)
    }

    /// §5.1.1: HEADERS opening stream 3 after stream 5 is a PROTOCOL_ERROR.
    func testDecreasingStreamIDIsAProtocolError() throws {
        let f = try AbuseFixture()
        defer { f.stop() }
        let r = try PythonPeer.run("conformance.py", ["--port", String(f.sidecar.port), "--scenario", "stream-order"])
        print("stream order: \(r)")
        XCTAssertTrue(r.bool("goaway"), "\(r)")
        XCTAssertEqual(r.int("goaway_code"), 0x1, "GOAWAY should say PROTOCOL_ERROR: \(r)")
        XCTAssertTrue(f.sidecar.process.process.isRunning)
    }
}

/// Checks made before a proxy serves anything.
final class StartupCheckTests: XCTestCase {
    /// A gateway's private key readable by group and others is refused at startup, naming
    /// the file.
    func testGatewayRefusesAWorldReadablePrivateKey() throws {
        let dir = try TempDir()
        let pki = try MeshPKI(dir: dir)
        let key = pki.key("cluster2", "gateway")
        XCTAssertEqual(chmod(key, 0o644), 0)
        let port = Ports.free()
        try dir.write("gateway.yaml", """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: cluster2-gateway }
        spec:
          cluster: cluster2
          trustDomain: \(MeshPKI.trustDomain)
          workers: 1
          tls: { trustBundle: "\(pki.rootPath)", certificateChain: "\(pki.chain("cluster2", "gateway"))", privateKey: "\(key)" }
          listeners:
          - { name: east-west, role: gateway, address: "127.0.0.1:\(port)" }
          admin: { address: "127.0.0.1:\(Ports.free())" }

        """)
        let gateway = try TestProcess("gateway", executable: try causewayBinary(), arguments: ["run", "--config", dir.path("gateway.yaml")])
        defer { gateway.stop() }
        let deadline = Date().addingTimeInterval(10)
        while ChildWait.isRunning(gateway.process) && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(ChildWait.isRunning(gateway.process), "the gateway started with a 0644 private key:\n\(gateway.log)")
        guard !ChildWait.isRunning(gateway.process) else { return }
        XCTAssertNotEqual(gateway.exitStatus, 0, gateway.log)
        XCTAssertTrue(gateway.log.contains(key), "the error should name \(key):\n\(gateway.log)")
    }
}
