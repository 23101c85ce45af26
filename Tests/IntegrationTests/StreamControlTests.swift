import Foundation
import XCTest
import CausewayHTTP
import Glibc

/// Resets and backpressure across the proxy.
final class StreamControlTests: XCTestCase {
    func testClientCancelReachesTheBackendAsRstStream() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.randomFile("www/big.bin", size: 8 << 20)
        let backend = try NghttpdBackend(docroot: dir.path("www"), extra: ["-v"])
        defer { backend.stop() }
        let sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]], workers: 1)
        defer { sidecar.stop() }

        let client = try H2TestPeer.connect(port: sidecar.port)
        let id = client.session.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "backend"), (":path", "/big.bin")]), body: nil)
        // Read the headers and a little body without returning window, then cancel.
        XCTAssertTrue(try client.pump(seconds: 10, consume: false) { client.statuses[id] == 200 && (client.receivedBody[id] ?? 0) > 0 })
        client.session.reset(streamID: id, errorCode: H2ErrorCode.cancel)
        try client.flush()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !backend.process.log.contains("recv RST_STREAM") { usleep(50_000) }
        XCTAssertTrue(backend.process.log.contains("recv RST_STREAM"), "backend never saw RST_STREAM:\n\(backend.process.log.suffix(2000))")
        XCTAssertTrue(backend.process.log.contains("error_code=CANCEL"), backend.process.log.suffix(2000).description)
    }

    func testUpstreamResetMidResponseResetsTheClientStream() throws {
        let dir = try TempDir()
        let upstream = try ScriptedUpstream.resetting()
        let sidecar = try CausewaySidecar(dir: dir, services: ["flaky": [TestEndpoint(port: upstream.port)]], workers: 1)
        defer { sidecar.stop() }
        let client = try H2TestPeer.connect(port: sidecar.port)
        let id = client.session.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "flaky"), (":path", "/")]), body: nil)
        XCTAssertTrue(try client.pump(seconds: 10) { client.closed[id] != nil })
        // Headers, a little body and the reset can reach the proxy in one read; nghttp2 then
        // sends the RST_STREAM ahead of the still-queued HEADERS. Either way the client must
        // see its stream reset with the upstream's code, never a clean end.
        if let status = client.statuses[id] { XCTAssertEqual(status, 200) }
        XCTAssertEqual(client.closed[id], H2ErrorCode.internalError, client.events.joined(separator: ", "))
        XCTAssertFalse(client.events.contains("end \(id)"), client.events.joined(separator: ", "))
    }

    /// A client that reads slowly must not make the proxy buffer the whole response.
    func testSlowReaderKeepsProxyMemoryBounded() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        // Sparse: costs no disk, still 256 MiB to stream.
        XCTAssertTrue(FileManager.default.createFile(atPath: dir.path("www/huge.bin"), contents: nil))
        XCTAssertEqual(truncate(dir.path("www/huge.bin"), 256 << 20), 0)
        let backend = try NghttpdBackend(docroot: dir.path("www"))
        defer { backend.stop() }
        let sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]], workers: 1)
        defer { sidecar.stop() }
        // Warm up so the baseline includes the connection machinery.
        _ = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-H", "host: backend", sidecar.url("/huge.bin"), "-r", "0-1000"])
        let baseline = try XCTUnwrap(sidecar.process.residentBytes())

        final class Peak: @unchecked Sendable { var value = 0; var running = true }
        let peak = Peak()
        let pid = sidecar.process.pid
        let sampler = Thread {
            while peak.running {
                if let rss = TestProcess.residentBytes(pid: pid) { peak.value = max(peak.value, rss) }
                usleep(50_000)
            }
        }
        sampler.start()
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--limit-rate", "48M", "-o", "/dev/null",
                                        "-w", "%{size_download}", "-H", "host: backend", sidecar.url("/huge.bin")], timeout: 120)
        peak.running = false
        usleep(100_000)
        XCTAssertEqual(r.stdoutText, String(256 << 20), r.stderr)
        let growth = peak.value - baseline
        XCTAssertLessThan(growth, 32 << 20, "RSS grew by \(growth >> 20) MiB while streaming 256 MiB to a slow reader")
    }

    /// Window credit must be returned even for response bytes that drain downstream after
    /// the upstream stream closed; otherwise small connection windows stall within a few
    /// requests.
    func testSmallWindowsDoNotLeakCreditAcrossManyResponses() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.randomFile("www/quarter.bin", size: 256 << 10)
        let backend = try NghttpdBackend(docroot: dir.path("www"))
        defer { backend.stop() }
        let sidecar = try CausewaySidecar(
            dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]], workers: 1,
            extraProxySpec: "  http2: { initialStreamWindow: 65535, connectionWindow: 65535 }"
        )
        defer { sidecar.stop() }
        let r = try runCommand("h2load", ["-n", "200", "-c", "2", "-m", "4", "-t", "1", "-w", "14", "-W", "14",
                                          "-H", ":authority: backend", sidecar.url("/quarter.bin")], timeout: 120)
        XCTAssertTrue(r.stdoutText.contains("200 succeeded, 0 failed, 0 errored"), r.stdoutText)
    }
}

/// An upstream GOAWAY fails no stream: streams at or below its last stream id finish; those
/// above it are replayed on a new connection, a small body from the copy kept for retries.
final class UpstreamGoawayTests: XCTestCase {
    func testGoawayFailsNoStream() throws {
        let dir = try TempDir()
        let upstream = try ScriptedUpstream.goaway(after: 3)
        let sidecar = try CausewaySidecar(dir: dir, services: ["svc": [TestEndpoint(port: upstream.port)]], workers: 1)
        defer { sidecar.stop() }
        let client = try H2TestPeer.connect(port: sidecar.port)
        func request(_ method: String, _ path: String) -> HeaderBlock {
            HeaderBlock([(":method", method), (":scheme", "http"), (":authority", "svc"), (":path", path)])
        }
        let a = client.session.submitRequest(request("GET", "/a"), body: nil)
        let b = client.session.submitRequest(request("GET", "/b"), body: nil)
        let body = H2OutboundBody()
        Array("payload".utf8).withUnsafeBytes { client.session.send($0, on: body) }
        client.session.finish(body)
        let c = client.session.submitRequest(request("POST", "/c"), body: body)
        XCTAssertTrue(try client.pump(seconds: 15) { [a, b, c].allSatisfy { client.closed[$0] != nil } }, client.events.joined(separator: ", ") + sidecar.process.log)
        XCTAssertEqual(client.statuses[a], 200)
        XCTAssertEqual(client.statuses[b], 200, "a bodiless request above the GOAWAY's last stream is replayed")
        XCTAssertEqual(client.statuses[c], 200, "a request whose small body was sent is replayed from the kept copy")
        XCTAssertEqual(client.closed[a], 0)
        XCTAssertEqual(client.closed[b], 0)
    }
}

/// Request bytes a cancelled stream left queued inside the proxy must be credited back to
/// the client's connection, or a few cancels starve every later upload on it.
final class CancelledUploadCreditTests: XCTestCase {
    func testCancelledUploadsDoNotStarveTheClientConnection() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        let sink = try ScriptedUpstream.sink()
        let echo = try NghttpdBackend(docroot: dir.path("www"))
        defer { echo.stop() }
        let sidecar = try CausewaySidecar(
            dir: dir, services: ["sink": [TestEndpoint(port: sink.port)], "echo": [TestEndpoint(port: echo.port)]], workers: 1,
            extraProxySpec: "  http2: { initialStreamWindow: 65535, connectionWindow: 65535 }"
        )
        defer { sidecar.stop() }
        let client = try H2TestPeer.connect(port: sidecar.port)
        let chunk = [UInt8](repeating: 0x42, count: 60_000)
        func post(_ authority: String) -> (Int32, H2OutboundBody) {
            let body = H2OutboundBody()
            let id = client.session.submitRequest(
                HeaderBlock([(":method", "POST"), (":scheme", "http"), (":authority", authority), (":path", "/echo")]), body: body)
            chunk.withUnsafeBytes { client.session.send($0, on: body) }
            client.session.finish(body)
            return (id, body)
        }
        // Three uploads to a service that never reads: each leaves up to 60 KB in the proxy.
        for _ in 0..<3 {
            let (id, body) = post("sink")
            try client.pump(seconds: 3) { body.bufferedBytes == 0 }
            client.session.reset(streamID: id, errorCode: H2ErrorCode.cancel)
            try client.flush()
            try client.pump(seconds: 0.3)
        }
        // The same connection must still carry a full upload elsewhere.
        let (id, _) = post("echo")
        XCTAssertTrue(try client.pump(seconds: 10) { client.closed[id] != nil }, "upload stalled: the client's connection window leaked")
        XCTAssertEqual(client.statuses[id], 200)
        XCTAssertEqual(client.receivedBody[id], chunk.count)
    }

    func testPrefaceSplitAcrossReadsIsHTTP2() throws {
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: [:], workers: 1)
        defer { sidecar.stop() }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = sidecar.port.bigEndian
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let first = Array("PRI * HTTP/2.0\r\n\r\n".utf8)
        let second = Array("SM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]  // + empty SETTINGS
        _ = first.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        usleep(100_000)
        _ = second.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buf = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &buf, buf.count, 0)
        XCTAssertGreaterThanOrEqual(n, 9)
        XCTAssertEqual(buf[3], 4, "expected the server's SETTINGS frame, got \(String(decoding: buf[0..<max(n, 0)], as: UTF8.self))")
    }
}
