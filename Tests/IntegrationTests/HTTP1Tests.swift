import Foundation
import Glibc
import XCTest

/// A one-worker sidecar in front of nghttpd (h2c: `backend`) and the Python HTTP/1.1 server
/// (`appProtocol: http`: `web1`), both serving `www`.
private final class HTTP1Fixture {
    let dir: TempDir
    let nghttpd: NghttpdBackend
    let web: HTTP1Backend
    let sidecar: CausewaySidecar

    init(extraProxySpec: String = "", nghttpdArgs: [String] = [], accessLog: Bool = false,
         files: (TempDir) throws -> Void = { _ in }) throws {
        dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hello\n")
        try dir.write("www/a", "first\n")
        try dir.write("www/b", "second\n")
        try dir.write("www/c", "third\n")
        try files(dir)
        nghttpd = try NghttpdBackend(docroot: dir.path("www"), extra: nghttpdArgs)
        web = try HTTP1Backend(docroot: dir.path("www"))
        sidecar = try CausewaySidecar(dir: dir, services: [
            "backend": [TestEndpoint(port: nghttpd.port)],
            "web1": [TestEndpoint(port: web.port, appProtocol: "http")],
        ], workers: 1, extraProxySpec: extraProxySpec, accessLog: accessLog)
    }

    /// curl speaking HTTP/1.1 to the sidecar.
    func curl(_ args: [String]) throws -> CommandResult {
        try runCommand("curl", ["-sS", "--http1.1", "--max-time", "60"] + args)
    }

    /// `Peers/h1_raw.py`: each of `sends` is one write.
    func raw(_ sends: [String], shut: Bool = false, timeout: Double = 5) throws -> PeerResult {
        var args = ["--port", String(sidecar.port), "--timeout", String(timeout)]
        for s in sends { args += ["--send", s] }
        if shut { args.append("--shut") }
        return try PythonPeer.run("h1_raw.py", args, timeout: timeout + 30)
    }

    /// A metric's value from `/metrics`: `labels` are the ones after `cluster`, e.g.
    /// `,side="downstream",reason="obs-fold"`.
    func metric(_ name: String, labels: String = "") -> Int? {
        guard let text = try? sidecar.admin("/metrics") else { return nil }
        let prefix = "\(name){cluster=\"test-cluster\"\(labels)} "
        let line = text.split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line.flatMap { Int($0.dropFirst(prefix.count)) }
    }

    func stop() {
        sidecar.stop()
        web.stop()
        nghttpd.stop()
    }
}

/// HTTP/1.1 clients on a sidecar listener (sniffed per connection): keep-alive, pipelining,
/// bodies of any size, 100-continue, trailers, refusals, timeouts; to h2c endpoints, to
/// `appProtocol: http` endpoints over pooled HTTP/1.1, and across clusters.
final class HTTP1Tests: XCTestCase {
    private func data(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func testBodiesOfEveryFramingAreByteExactToAnH2CEndpoint() throws {
        var download = Data()
        let f = try HTTP1Fixture { dir in download = try dir.randomFile("www/big.bin", size: 20 << 20, seed: 7) }
        defer { f.stop() }
        let up = try f.dir.randomFile("up.bin", size: 20 << 20, seed: 9)
        let r1 = try f.curl(["-H", "host: backend", "-o", f.dir.path("dl.bin"), f.sidecar.url("/big.bin")])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssertEqual(try data(f.dir.path("dl.bin")), download)
        // curl asks for 100 Continue before a body this large, and gets it.
        let r2 = try f.curl(["-v", "-H", "host: backend", "--data-binary", "@" + f.dir.path("up.bin"), "-o", f.dir.path("echo1.bin"),
                             f.sidecar.url("/echo")])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertTrue(r2.stderr.contains("Expect: 100-continue"), r2.stderr)
        XCTAssertTrue(r2.stderr.contains("HTTP/1.1 100 Continue"), r2.stderr)
        XCTAssertEqual(try data(f.dir.path("echo1.bin")), up)
        let r3 = try f.curl(["-H", "host: backend", "-H", "transfer-encoding: chunked", "--data-binary", "@" + f.dir.path("up.bin"),
                             "-o", f.dir.path("echo2.bin"), f.sidecar.url("/echo")])
        XCTAssertEqual(r3.status, 0, r3.stderr)
        XCTAssertEqual(try data(f.dir.path("echo2.bin")), up)
    }

    func testAnHTTPEndpointIsReachedOverPooledHTTP1Connections() throws {
        var download = Data()
        let f = try HTTP1Fixture { dir in download = try dir.randomFile("www/big.bin", size: 20 << 20, seed: 11) }
        defer { f.stop() }
        // The endpoint frames its response with content-length, chunked, or by closing.
        for mode in ["length", "chunked", "close"] {
            let r = try f.curl(["-H", "host: web1", "-o", f.dir.path("dl-\(mode).bin"), f.sidecar.url("/big.bin?mode=\(mode)")])
            XCTAssertEqual(r.status, 0, mode + r.stderr)
            XCTAssertEqual(try data(f.dir.path("dl-\(mode).bin")), download, mode)
        }
        let up = try f.dir.randomFile("up.bin", size: 20 << 20, seed: 13)
        for chunked in [false, true] {
            let r = try f.curl(["-H", "host: web1"] + (chunked ? ["-H", "transfer-encoding: chunked"] : [])
                               + ["--data-binary", "@" + f.dir.path("up.bin"), "-o", f.dir.path("echo.bin"), f.sidecar.url("/echo")])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try data(f.dir.path("echo.bin")), up, "chunked: \(chunked)")
        }
        // An HTTP/2 client's request goes to the same endpoint over HTTP/1.1.
        let h2 = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--data-binary", "@" + f.dir.path("up.bin"),
                                         "-o", f.dir.path("echo-h2.bin"), "-H", "host: web1", f.sidecar.url("/echo")])
        XCTAssertEqual(h2.status, 0, h2.stderr)
        XCTAssertEqual(try data(f.dir.path("echo-h2.bin")), up)
        // Requests one after another, each from a new client connection, reuse one pooled
        // upstream connection.
        var ids: [String] = []
        for _ in 0..<3 {
            let r = try f.curl(["-D", "-", "-o", "/dev/null", "-H", "host: web1", f.sidecar.url("/hello")])
            ids.append(r.stdoutText.lowercased().split(separator: "\r\n").first { $0.hasPrefix("x-connection-id:") }.map(String.init) ?? "none")
        }
        XCTAssertEqual(Set(ids).count, 1, "\(ids)")
        XCTAssertNotEqual(ids.first, "none")
        let requests = f.web.requests
        XCTAssertEqual(requests.last?.string("path"), "/hello")
        XCTAssertEqual(requests.count, 9, "\(requests)")
    }

    func testAnHTTPEndpointThatIsDownIs503ConnectFailure() throws {
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: ["web1": [TestEndpoint(port: Ports.free(), appProtocol: "http")]], workers: 1)
        defer { sidecar.stop() }
        for flag in ["--http1.1", "--http2-prior-knowledge"] {
            let r = try runCommand("curl", ["-sS", flag, "-D", "-", "-o", "/dev/null", "-H", "host: web1", sidecar.url("/x")])
            XCTAssertTrue(r.stdoutText.contains(" 503"), flag + r.stdoutText + r.stderr)
            XCTAssertTrue(r.stdoutText.contains("x-causeway-reason: upstream-connect-failure"), flag + r.stdoutText)
        }
    }

    func testClientsAbandoningRequestsQueuedForABusyHTTPEndpointLeaveTheProxyServing() throws {
        // One connection per endpoint: the first request goes on the wire (the endpoint takes
        // 3 s to answer), the others queue behind it on the same connection.
        let f = try HTTP1Fixture(extraProxySpec: "  upstream: { maxConnectionsPerEndpoint: 1 }")
        defer { f.stop() }
        // In one read the client abandons the request on the wire, which closes the upstream
        // connection at the end of the pass, and then the queued ones: by resetting each
        // stream, or by resetting its whole connection. The queued streams must be forgotten
        // at once, not reported on when the upstream connection closes.
        for mode in [["--reset", "all"], ["--reset", "first", "--abort"]] {
            let r = try PythonPeer.run("h2_abandon.py", ["--port", String(f.sidecar.port), "--authority", "web1",
                                                         "--path", "/slow?ms=3000", "--streams", "8", "--wait", "1"] + mode)
            XCTAssertEqual(r.int("responses"), 0, "\(mode): \(r)")
            let next = try f.curl(["-H", "host: web1", f.sidecar.url("/hello")])
            XCTAssertEqual(next.stdoutText, "hello\n", "\(mode): " + next.stderr + f.sidecar.process.logTail(lines: 30))
        }
        XCTAssertTrue(f.sidecar.process.process.isRunning, f.sidecar.process.logTail(lines: 30))
        // Only the request on the wire reached the endpoint each time; none was replayed.
        XCTAssertEqual(f.web.requests.filter { $0.string("path") == "/slow?ms=3000" }.count, 2, "\(f.web.requests)")
    }

    func testKeepAliveServesSeveralRequestsOnOneConnection() throws {
        let f = try HTTP1Fixture()
        defer { f.stop() }
        let r = try f.curl(["-v", "-H", "host: backend", f.sidecar.url("/a"), f.sidecar.url("/b"), f.sidecar.url("/c")])
        XCTAssertEqual(r.stdoutText, "first\nsecond\nthird\n", r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: "Re-using existing connection").count - 1, 2, r.stderr)
        XCTAssertEqual(f.metric("causeway_http1_downstream_connections_total"), 1)
        XCTAssertEqual(f.metric("causeway_http1_requests_total"), 3)
    }

    /// A client that half-closes right after its requests (`printf … | nc -N`) still gets
    /// every answer, in order, then the connection closes; nothing is left open.
    func testAClientThatHalfClosesAfterItsRequestsGetsEveryAnswer() throws {
        let f = try HTTP1Fixture()
        defer { f.stop() }
        for host in ["backend", "web1"] {
            let pipeline = ["/a", "/b", "/c"].map { "GET \($0) HTTP/1.1\\r\\nhost: \(host)\\r\\n\\r\\n" }.joined()
            let r = try f.raw([pipeline], shut: true)
            let text = r.string("response") ?? ""
            XCTAssertTrue(r.bool("closed"), "\(r)")
            let order = ["first\n", "second\n", "third\n"].map { text.range(of: $0)?.lowerBound }
            XCTAssertTrue(order.allSatisfy { $0 != nil }, text)
            XCTAssertEqual(order.compactMap { $0 }, order.compactMap { $0 }.sorted(), text)
        }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && f.metric("causeway_http1_downstream_connections_active") != 0 { usleep(100_000) }
        XCTAssertEqual(f.metric("causeway_http1_downstream_connections_active"), 0)
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let f = try HTTP1Fixture()
        defer { f.stop() }
        for host in ["backend", "web1"] {
            let pipeline = ["/a", "/b", "/c"].map { "GET \($0) HTTP/1.1\\r\\nhost: \(host)\\r\\n\\r\\n" }.joined()
                + "GET /hello HTTP/1.1\\r\\nhost: \(host)\\r\\nconnection: close\\r\\n\\r\\n"
            let r = try f.raw([pipeline])
            let text = r.string("response") ?? ""
            XCTAssertTrue(r.bool("closed"), "\(r)")
            XCTAssertEqual(text.components(separatedBy: "HTTP/1.1 200 OK").count - 1, 4, text)
            let order = ["first\n", "second\n", "third\n", "hello\n"].map { text.range(of: $0)?.lowerBound }
            XCTAssertTrue(order.allSatisfy { $0 != nil }, text)
            XCTAssertEqual(order.compactMap { $0 }, order.compactMap { $0 }.sorted(), text)
        }
        // Answers the proxy makes itself (no route) and relayed ones, interleaved, stay in order.
        let mixed = (0..<20).map { i in "GET /\(["a", "b", "c"][i % 3]) HTTP/1.1\\r\\nhost: \(i % 2 == 0 ? "web1" : "nowhere")\\r\\n\\r\\n" }
            .joined() + "GET /hello HTTP/1.1\\r\\nhost: backend\\r\\nconnection: close\\r\\n\\r\\n"
        let r = try f.raw([mixed])
        let text = r.string("response") ?? ""
        XCTAssertTrue(r.bool("closed"), "\(r)")
        let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
        XCTAssertEqual(statuses, (0..<20).map { $0 % 2 == 0 ? "200" : "404" } + ["200"], text)
        // The endpoint saw the routed ones, in order (after the four of the first pipeline).
        XCTAssertEqual(f.web.requests.dropFirst(4).map { $0.string("path") ?? "" },
                       ["/a", "/c", "/b", "/a", "/c", "/b", "/a", "/c", "/b", "/a"], "\(f.web.requests)")
    }

    func testExpectContinueIsAnsweredOnlyForARoutedRequest() throws {
        let f = try HTTP1Fixture()
        defer { f.stop() }
        // Routed: 100 Continue, then the request waits for its body.
        let routed = try f.raw(["POST /echo HTTP/1.1\\r\\nhost: web1\\r\\ncontent-length: 5\\r\\nexpect: 100-continue\\r\\n\\r\\n"], timeout: 2)
        XCTAssertTrue((routed.string("response") ?? "").hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"), "\(routed)")
        XCTAssertTrue(routed.bool("timed_out"), "\(routed)")
        // Not routed: the final answer, no 100 Continue, and the connection closes (the client
        // may or may not send the body it was not invited to).
        let refused = try f.raw(["POST /echo HTTP/1.1\\r\\nhost: nowhere\\r\\ncontent-length: 5\\r\\nexpect: 100-continue\\r\\n\\r\\n"])
        let text = refused.string("response") ?? ""
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 404 Not Found\r\n"), text)
        XCTAssertTrue(text.contains("x-causeway-reason: no-route\r\n"), text)
        XCTAssertTrue(text.contains("connection: close\r\n"), text)
        XCTAssertFalse(text.contains("100 Continue"), text)
        XCTAssertTrue(refused.bool("closed"), "\(refused)")
    }

    func testABodyStillArrivingAfterTheProxyAnsweredIsNotReadWithoutBound() throws {
        let f = try HTTP1Fixture()
        defer { f.stop() }
        // Answered at once (no route), with a body of 10^12 bytes, or chunked with a 1 TB
        // chunk, still to come: the answer closes the connection, which closes after its
        // linger however fast the client keeps sending.
        let heads = ["POST /upload HTTP/1.1\\r\\nhost: nowhere\\r\\ncontent-length: 1000000000000\\r\\n\\r\\n",
                     "POST /upload HTTP/1.1\\r\\nhost: nowhere\\r\\ntransfer-encoding: chunked\\r\\n\\r\\nffffffffff\\r\\n"]
        for head in heads {
            let r = try PythonPeer.run("h1_raw.py", ["--port", String(f.sidecar.port), "--send", head, "--flood", "20"], timeout: 60)
            let text = r.string("response") ?? ""
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 404 Not Found\r\n"), text)
            XCTAssertTrue(text.contains("x-causeway-reason: no-route\r\n"), text)
            XCTAssertTrue(text.contains("connection: close\r\n"), text)
            XCTAssertEqual(text.components(separatedBy: "HTTP/1.1 ").count - 1, 1, text)
            // The answer, the end of its output (EOF), then the socket closed (sending fails).
            XCTAssertTrue(r.bool("closed"), "\(r)")
            XCTAssertTrue(r.bool("reset"), "the proxy still reads the body after 20 s: \(r)")
        }
        // The endpoint answers before the body (and the proxy then drops what the client still
        // sends): past a bounded amount the connection closes after the answer too.
        let early = try PythonPeer.run("h1_raw.py", ["--port", String(f.sidecar.port), "--flood", "20", "--send",
                                                     "POST /early HTTP/1.1\\r\\nhost: web1\\r\\ncontent-length: 1000000000000\\r\\n\\r\\n"],
                                       timeout: 60)
        XCTAssertTrue((early.string("response") ?? "").hasPrefix("HTTP/1.1 413 "), "\(early)")
        XCTAssertTrue((early.string("response") ?? "").hasSuffix("\r\n\r\ntoo large\n"), "\(early)")
        XCTAssertTrue(early.bool("reset"), "the proxy still reads the body after 20 s: \(early)")
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && f.metric("causeway_http1_downstream_connections_active") != 0 { usleep(100_000) }
        XCTAssertEqual(f.metric("causeway_http1_downstream_connections_active"), 0)
        // A short rest is read and dropped, and the connection serves the next request.
        let short = try f.raw(["POST /upload HTTP/1.1\\r\\nhost: nowhere\\r\\ncontent-length: 10\\r\\n\\r\\n0123456789"
                               + "GET /a HTTP/1.1\\r\\nhost: web1\\r\\nconnection: close\\r\\n\\r\\n"])
        let text = short.string("response") ?? ""
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 404 Not Found\r\n"), text)
        XCTAssertFalse(text.components(separatedBy: "\r\n\r\n")[0].contains("connection: close"), text)
        XCTAssertTrue(text.hasSuffix("\r\n\r\nfirst\n"), text)
        XCTAssertTrue(short.bool("closed"), "\(short)")
    }

    func testChunkedTrailersTravelBothWays() throws {
        let f = try HTTP1Fixture(nghttpdArgs: ["-v"])
        defer { f.stop() }
        func request(_ host: String) -> String {
            "POST /echo HTTP/1.1\\r\\nhost: \(host)\\r\\ntransfer-encoding: chunked\\r\\nconnection: close\\r\\n\\r\\n"
                + "5\\r\\nhello\\r\\n0\\r\\nx-checksum: abc123\\r\\n\\r\\n"
        }
        // To an HTTP/1.1 endpoint: trailers in the last chunk, echoed back as response trailers.
        let local = try f.raw([request("web1")])
        let text = local.string("response") ?? ""
        XCTAssertTrue(text.contains("transfer-encoding: chunked\r\n"), text)
        XCTAssertTrue(text.hasSuffix("5\r\nhello\r\n0\r\nx-echo-x-checksum: abc123\r\n\r\n"), text)
        XCTAssertTrue(f.web.process.log.contains(#""trailers": [["x-checksum", "abc123"]]"#), f.web.process.log)
        // To an h2c endpoint: the trailers arrive as an HTTP/2 trailer block.
        let remote = try f.raw([request("backend")])
        XCTAssertTrue((remote.string("response") ?? "").contains("hello"), "\(remote)")
        XCTAssertTrue(f.nghttpd.process.log.contains("x-checksum: abc123"), f.nghttpd.process.log)
    }

    func testUpgradeToH2CIsIgnored() throws {
        let f = try HTTP1Fixture()
        defer { f.stop() }
        let r = try f.raw(["GET /hello HTTP/1.1\\r\\nhost: web1\\r\\nconnection: Upgrade, HTTP2-Settings\\r\\nupgrade: h2c\\r\\n"
            + "http2-settings: AAMAAABkAARAAAAAAAIAAAAA\\r\\n\\r\\n"], timeout: 2)
        let text = r.string("response") ?? ""
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n"), text)
        XCTAssertTrue(text.hasSuffix("\r\n\r\nhello\n"), text)
        XCTAssertFalse(text.lowercased().contains("upgrade"), text)
        // Neither the upgrade nor the fields the Connection header named reach the endpoint.
        let seen = f.web.process.log.lowercased()
        XCTAssertFalse(seen.contains("upgrade") || seen.contains("http2-settings"), seen)
    }

    func testSmugglingAttemptsAreRefusedAndNothingReachesTheEndpoint() throws {
        let f = try HTTP1Fixture()
        defer { f.stop() }
        let smuggled = "GET /secret HTTP/1.1\\r\\nhost: web1\\r\\n\\r\\n"
        let attempts: [(String, String, String)] = [
            ("POST /echo HTTP/1.1\\r\\nhost: web1\\r\\ncontent-length: 5\\r\\ntransfer-encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n",
             "400", "content-length-and-chunked"),
            ("POST /echo HTTP/1.1\\r\\nhost: web1\\r\\ntransfer-encoding: chunked\\r\\ncontent-length: 5\\r\\n\\r\\n0\\r\\n\\r\\n",
             "400", "content-length-and-chunked"),
            ("POST /echo HTTP/1.1\\r\\nhost: web1\\r\\ncontent-length: 5\\r\\ncontent-length: 6\\r\\n\\r\\nhello", "400", ""),
            ("GET /a HTTP/1.1\\r\\nhost: web1\\r\\nx-folded: a\\r\\n b\\r\\n\\r\\n", "400", "obs-fold"),
            ("GET /a HTTP/1.1\\r\\nhost: web1\\r\\nx-bad : a\\r\\n\\r\\n", "400", ""),
        ]
        for (request, status, reason) in attempts {
            let r = try f.raw([request + smuggled])
            let text = r.string("response") ?? ""
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 \(status) "), request + " → " + text)
            XCTAssertTrue(text.contains("x-causeway-reason: \(reason)"), request + " → " + text)
            XCTAssertTrue(text.contains("connection: close\r\n"), text)
            // One answer: the smuggled request was never parsed.
            XCTAssertEqual(text.components(separatedBy: "HTTP/1.1 ").count - 1, 1, text)
            XCTAssertTrue(r.bool("closed"), "\(r)")
        }
        XCTAssertTrue(f.web.requests.isEmpty, "\(f.web.requests)")
        XCTAssertEqual(f.metric("causeway_http1_parse_errors_total", labels: #",side="downstream",reason="content-length-and-chunked""#), 2)
    }

    func testHTTP2HeadsNoRequestLineCanCarryNeverReachAnHTTPEndpoint() throws {
        // A method or target an HTTP/1.1 request line cannot carry is refused before it could
        // reach the endpoint: by nghttp2 (the stream is reset) or by routing. The HTTP/1.1
        // upstream would answer 400 invalid-request without writing anything
        // (`HTTP1Writer.appendRequestHead` refuses such heads and writes nothing).
        let f = try HTTP1Fixture()
        defer { f.stop() }
        let cases: [([String], String)] = [
            (["--path", "/a\u{7F}b"], "rst"), (["--path", "/a\u{01}b"], "rst"), (["--path", "/a b"], "rst"),
            (["--path", "/a\r\nx: y"], "rst"), (["--method", "GE(T"], "rst"), (["--authority", "user@web1"], "404"),
        ]
        for (args, expected) in cases {
            let r = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--authority", "web1", "--path", "/hello"] + args)
            if expected == "rst" {
                XCTAssertEqual(r.string("outcome"), "rst", "\(args): \(r)")
            } else {
                XCTAssertEqual(r.int("status"), Int(expected), "\(args): \(r)")
            }
        }
        XCTAssertTrue(f.web.requests.isEmpty, "\(f.web.requests)")
        let ok = try PythonPeer.run("h2_client.py", ["--port", String(f.sidecar.port), "--authority", "web1", "--path", "/hello"])
        XCTAssertEqual(ok.int("status"), 200, "\(ok)")
        XCTAssertEqual(f.web.requests.count, 1, "\(f.web.requests)")
    }

    func testOversizedHeadsGet431() throws {
        let f = try HTTP1Fixture()
        defer { f.stop() }
        let big = try f.raw(["GET /hello HTTP/1.1\\r\\nhost: web1\\r\\nx-big: {70000*a}\\r\\n\\r\\n"])
        XCTAssertTrue((big.string("response") ?? "").hasPrefix("HTTP/1.1 431 "), "\(big)")
        XCTAssertTrue((big.string("response") ?? "").contains("x-causeway-reason: header-too-large"), "\(big)")
        let many = try f.raw(["GET /hello HTTP/1.1\\r\\nhost: web1\\r\\n" + (0..<120).map { "x-f\($0): v\\r\\n" }.joined() + "\\r\\n"])
        XCTAssertTrue((many.string("response") ?? "").hasPrefix("HTTP/1.1 431 "), "\(many)")
        XCTAssertTrue(f.web.requests.isEmpty, "\(f.web.requests)")
    }

    func testUnfinishedHeadsAndSilentClientsAreClosedByTheHeaderTimeout() throws {
        let f = try HTTP1Fixture(extraProxySpec: "  timeouts: { requestHeaders: 1s }")
        defer { f.stop() }
        // Half a head; a request line still arriving; nothing at all. No answer, just a close.
        for sends in [["GET /hello HTTP/1.1\\r\\nhost: web1\\r\\n"], ["GET /hel"], []] {
            let r = try f.raw(sends, timeout: 20)
            XCTAssertTrue(r.bool("closed"), "\(sends): \(r)")
            XCTAssertEqual(r.string("response"), "", "\(sends): \(r)")
        }
        XCTAssertEqual(f.metric("causeway_request_header_timeouts_total"), 3)
        XCTAssertEqual(f.metric("causeway_downstream_connections_active"), 0)
        XCTAssertTrue(f.web.requests.isEmpty, "\(f.web.requests)")
    }

    func testAClientThatNeverReadsDoesNotHurtAnother() throws {
        let f = try HTTP1Fixture(extraProxySpec: "  timeouts: { streamIdle: 2s }") { dir in
            XCTAssertTrue(FileManager.default.createFile(atPath: dir.path("www/huge.bin"), contents: nil))
            XCTAssertEqual(truncate(dir.path("www/huge.bin"), 256 << 20), 0)
        }
        defer { f.stop() }
        let get = "GET /huge.bin HTTP/1.1\\r\\nhost: backend\\r\\n\\r\\n"
        let stalled = try PythonPeer.start("h1_raw.py", ["--port", String(f.sidecar.port), "--send", get + get + get, "--no-read", "30"])
        defer { stalled.stop() }
        // The peer is a separate process: wait until its connection is there (a busy machine
        // starts Python slowly), or the wait for it to go below would pass at once.
        let connected = Date().addingTimeInterval(20)
        while Date() < connected && f.metric("causeway_http1_downstream_connections_active") != 1 { usleep(50_000) }
        XCTAssertEqual(f.metric("causeway_http1_downstream_connections_active"), 1, "the stalled client never connected: \(stalled.log)")
        let sampler = PeakRSSSampler(pid: f.sidecar.process.pid, killAbove: 1 << 30)
        for _ in 0..<5 {
            let r = try f.curl(["-H", "host: web1", f.sidecar.url("/hello")])
            XCTAssertEqual(r.stdoutText, "hello\n", r.stderr)
        }
        // Held output is bounded (socket buffers, the output high-water, one stream window),
        // and the connection goes once nothing moved for the stream idle timeout (whichever
        // of the connection's and the stream's checks sees it first).
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && f.metric("causeway_http1_downstream_connections_active") != 0 { usleep(200_000) }
        let peak = sampler.stop()
        XCTAssertEqual(f.metric("causeway_http1_downstream_connections_active"), 0)
        XCTAssertEqual((f.metric("causeway_stalled_write_closes_total") ?? 0) + (f.metric("causeway_stream_idle_timeouts_total") ?? 0), 1)
        XCTAssertLessThan(peak, 128 << 20, "sidecar RSS peaked at \(peak >> 20) MiB")
        XCTAssertEqual(try f.curl(["-H", "host: backend", f.sidecar.url("/hello")]).stdoutText, "hello\n")
    }

    func testARequestBodyTheEndpointDoesNotTakeStopsTheClientNotTheProxy() throws {
        let f = try HTTP1Fixture()
        defer { f.stop() }
        let size = 64 << 20
        let sampler = PeakRSSSampler(pid: f.sidecar.process.pid, killAbove: 1 << 30)
        // The endpoint reads nothing for 4 s. Meanwhile the client can push what the socket
        // buffers on both hops hold and one stream window of the proxy's, not the body.
        let r = try PythonPeer.run("h1_raw.py", ["--port", String(f.sidecar.port), "--timeout", "60", "--upload", String(size),
                                                 "--upload-seconds", "2",
                                                 "--send", "POST /stall?ms=4000 HTTP/1.1\\r\\nhost: web1\\r\\ncontent-length: \(size)\\r\\n"
                                                    + "connection: close\\r\\n\\r\\n"], timeout: 120)
        let peak = sampler.stop()
        let inTime = r.int("uploaded_in_time") ?? -1
        XCTAssertGreaterThan(inTime, 0, "\(r)")
        XCTAssertLessThan(inTime, 40 << 20, "the client pushed \(inTime >> 20) MiB while the endpoint read nothing")
        XCTAssertLessThan(peak, 128 << 20, "sidecar RSS peaked at \(peak >> 20) MiB")
        // Then the whole body gets through.
        XCTAssertTrue((r.string("response") ?? "").hasSuffix("\r\n\r\n\(size)\n"), "\(r)")
        XCTAssertEqual(f.web.requests.last?.int("body_bytes"), size)
    }

    func testHeadAndHTTP10AreFramedAsTheirClientNeeds() throws {
        let f = try HTTP1Fixture()
        defer { f.stop() }
        // HEAD: the length of what GET would send, no body; the connection goes on.
        let head = try f.raw(["HEAD /hello HTTP/1.1\\r\\nhost: web1\\r\\n\\r\\nGET /a HTTP/1.1\\r\\nhost: web1\\r\\nconnection: close\\r\\n\\r\\n"])
        let text = head.string("response") ?? ""
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n"), text)
        XCTAssertTrue(text.contains("content-length: 6\r\n"), text)
        XCTAssertTrue(text.hasSuffix("\r\n\r\nfirst\n"), text)
        XCTAssertEqual(text.components(separatedBy: "HTTP/1.1 200 OK").count - 1, 2, text)
        // HTTP/1.0 cannot take chunks: a chunked upstream response is delimited by the close.
        let old = try f.raw(["GET /b?mode=chunked HTTP/1.0\\r\\nhost: web1\\r\\n\\r\\n"])
        let oldText = old.string("response") ?? ""
        XCTAssertTrue(old.bool("closed"), "\(old)")
        XCTAssertFalse(oldText.lowercased().contains("transfer-encoding"), oldText)
        XCTAssertTrue(oldText.contains("connection: close\r\n"), oldText)
        XCTAssertTrue(oldText.hasSuffix("\r\n\r\nsecond\n"), oldText)
        // HTTP/1.0 with keep-alive and a known length keeps its connection.
        let kept = try f.raw(["GET /a HTTP/1.0\\r\\nhost: web1\\r\\nconnection: keep-alive\\r\\n\\r\\n"], timeout: 2)
        XCTAssertTrue((kept.string("response") ?? "").contains("connection: keep-alive\r\n"), "\(kept)")
        XCTAssertTrue(kept.bool("timed_out"), "\(kept)")
    }

    func testAccessLogAndMetricsCountHTTP1RequestsLikeHTTP2Ones() throws {
        let f = try HTTP1Fixture(accessLog: true)
        defer { f.stop() }
        XCTAssertEqual(try f.curl(["-H", "host: web1", "--data-binary", "12345", f.sidecar.url("/echo")]).stdoutText, "12345")
        _ = try f.curl(["-o", "/dev/null", "-H", "host: nowhere", f.sidecar.url("/x")])
        var lines: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            lines = f.sidecar.process.log.split(separator: "\n").compactMap { line in
                guard line.hasPrefix("{") else { return nil }
                return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            }
            if lines.count >= 2 { break }
            usleep(100_000)
        }
        XCTAssertEqual(lines.count, 2, f.sidecar.process.log)
        guard lines.count == 2 else { return }
        XCTAssertEqual(lines[0]["method"] as? String, "POST")
        XCTAssertEqual(lines[0]["authority"] as? String, "web1")
        XCTAssertEqual(lines[0]["path"] as? String, "/echo")
        XCTAssertEqual(lines[0]["status"] as? Int, 200)
        XCTAssertEqual(lines[0]["request_bytes"] as? Int, 5, "\(lines[0])")
        XCTAssertEqual(lines[0]["response_bytes"] as? Int, 5, "\(lines[0])")
        XCTAssertEqual(lines[0]["upstream"] as? String, "127.0.0.1:\(f.web.port)")
        XCTAssertEqual(lines[1]["status"] as? Int, 404)
        XCTAssertEqual(lines[1]["reason"] as? String, "no-route")
        let metrics = try f.sidecar.admin("/metrics")
        XCTAssertTrue(metrics.contains(#"causeway_requests_total{cluster="test-cluster",service="web1.default",upstream_cluster="test-cluster",code="200"} 1"#), metrics)
        XCTAssertEqual(f.metric("causeway_http1_requests_total"), 2)
        XCTAssertEqual(f.metric("causeway_http1_downstream_connections_total"), 2)
        XCTAssertEqual(f.metric("causeway_http1_upstream_connections_total"), 1)
        XCTAssertEqual(f.metric("causeway_http1_upstream_connections_active"), 1)
    }

    func testDrainFinishesTheRequestInFlightAndClosesIdleConnections() throws {
        // A drain deadline far beyond the test's patience: the process exits only if every
        // HTTP/1.1 connection closes by itself.
        let f = try HTTP1Fixture(extraProxySpec: "  timeouts: { drain: 60s }")
        defer { f.stop() }
        let idle = try PythonPeer.start("h1_raw.py", ["--port", String(f.sidecar.port), "--timeout", "50",
                                                      "--send", "GET /a HTTP/1.1\\r\\nhost: web1\\r\\n\\r\\n"])
        defer { idle.stop() }
        let slow = try PythonPeer.start("h1_raw.py", ["--port", String(f.sidecar.port), "--timeout", "50",
                                                      "--send", "GET /slow?ms=2000 HTTP/1.1\\r\\nhost: web1\\r\\n\\r\\n"])
        defer { slow.stop() }
        // Both requests reached the endpoint: the idle client has had its answer, the slow one waits.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && f.web.requests.count < 2 { usleep(50_000) }
        XCTAssertEqual(f.web.requests.count, 2, f.web.process.log)
        kill(f.sidecar.process.pid, SIGTERM)
        let slowResult = try PythonPeer.wait(for: slow, timeout: 30) { $0["response"] != nil }
        let text = slowResult.string("response") ?? ""
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n"), text)
        XCTAssertTrue(text.contains("connection: close\r\n"), text)
        XCTAssertTrue(text.hasSuffix("\r\n\r\nslow\n"), text)
        XCTAssertTrue(slowResult.bool("closed"), "\(slowResult)")
        let idleResult = try PythonPeer.wait(for: idle, timeout: 30) { $0["response"] != nil }
        XCTAssertTrue((idleResult.string("response") ?? "").hasSuffix("first\n"), "\(idleResult)")
        XCTAssertTrue(idleResult.bool("closed"), "\(idleResult)")
        let exitDeadline = Date().addingTimeInterval(30)
        while f.sidecar.process.process.isRunning && Date() < exitDeadline { usleep(100_000) }
        XCTAssertFalse(f.sidecar.process.process.isRunning, "still running long after its connections were done")
        if !f.sidecar.process.process.isRunning { XCTAssertEqual(f.sidecar.process.process.terminationStatus, 0, f.sidecar.process.log) }
    }

    func testRemoteServiceIsReachedOverHTTP2WithTheCallersIdentity() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hello from cluster2\n")
        let mesh = try TwoClusterMesh(dir: dir, docroot: dir.path("www"), backendArgs: ["-v"])
        defer { mesh.stop() }
        let r = try runCommand("curl", ["-sS", "--http1.1", "--max-time", "30", "-H", "host: webapp-cluster2",
                                        "-H", "x-forwarded-client-cert: By=forged;URI=forged", mesh.sidecarURL + "/hello"])
        XCTAssertEqual(r.stdoutText, "hello from cluster2\n", r.stderr + mesh.sidecar.log + mesh.gateway.log)
        let log = mesh.backend.process.log
        XCTAssertTrue(log.contains("x-forwarded-client-cert: By=\(MeshPKI.gatewayID);URI=\(MeshPKI.sidecarID)"), log)
        XCTAssertFalse(log.contains("forged"), log)
        XCTAssertTrue(log.contains(":authority: webapp.production"), log)
        let up = try dir.randomFile("up.bin", size: 4 << 20, seed: 17)
        let echo = try runCommand("curl", ["-sS", "--http1.1", "--max-time", "60", "-H", "host: webapp-cluster2",
                                           "--data-binary", "@" + dir.path("up.bin"), "-o", dir.path("echo.bin"), mesh.sidecarURL + "/echo"])
        XCTAssertEqual(echo.status, 0, echo.stderr)
        XCTAssertEqual(try data(dir.path("echo.bin")), up)
    }
}
