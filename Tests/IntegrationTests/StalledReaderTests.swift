import Foundation
import XCTest
import CausewayHTTP
import Glibc

/// nghttpd serving a sparse 64 MiB file and a small one, behind a one-worker sidecar with
/// `timeouts.streamIdle: 2s`.
private final class LargeDownloadFixture {
    /// Kept for the fixture's life: the docroot goes with it.
    let dir: TempDir
    let backend: NghttpdBackend
    let sidecar: CausewaySidecar

    init() throws {
        dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: dir.path("www/huge.bin"), contents: nil))
        XCTAssertEqual(truncate(dir.path("www/huge.bin"), 64 << 20), 0)
        try dir.write("www/small.txt", "ok\n")
        backend = try NghttpdBackend(docroot: dir.path("www"))
        sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]], workers: 1,
                                      extraProxySpec: "  timeouts: { streamIdle: 2s }")
    }

    /// A client with a 1 GiB window that has asked for the large file `count` times.
    func clientDownloading(_ count: Int) throws -> H2TestPeer {
        let client = try H2TestPeer.connect(port: sidecar.port, window: 1 << 30)
        for _ in 0..<count {
            _ = client.session.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "backend"),
                                                          (":path", "/huge.bin")]), body: nil)
        }
        try client.flush()
        return client
    }

    /// The value of an unlabelled (cluster-only) counter from `/metrics`.
    func metric(_ name: String) -> Int? {
        guard let text = try? sidecar.admin("/metrics") else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + "{") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") }
    }

    func stop() {
        sidecar.stop()
        backend.stop()
    }
}

/// A client that opens a large window and then never reads its socket: once the kernel's
/// buffers and the proxy's output high-water fill, not even a RST_STREAM can reach it, so
/// the connection itself must go after the stream idle timeout.
final class StalledReaderTests: XCTestCase {
    func testClientThatTakesNoOutputIsClosedAfterTheStreamIdleTimeout() throws {
        let f = try LargeDownloadFixture()
        defer { f.stop() }
        // Four downloads, then never read again. Within the idle timeout, the sweep's second
        // and some slack, the sidecar gives up on the connection.
        let client = try f.clientDownloading(4)
        defer { withExtendedLifetime(client) {} }  // its socket stays open, unread
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && (f.metric("causeway_stalled_write_closes_total") ?? 0) < 1 { usleep(200_000) }
        XCTAssertEqual(f.metric("causeway_stalled_write_closes_total"), 1)
        XCTAssertEqual(f.metric("causeway_downstream_connections_active"), 0)
        // And it still serves others.
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                                        "-H", "host: backend", f.sidecar.url("/small.txt")])
        XCTAssertEqual(r.stdoutText, "200")
    }
}

/// A client that reads slowly but steadily is never taken for a stalled one, even when the
/// socket stays "not writable" for longer than the stream idle timeout.
final class SlowReaderTests: XCTestCase {
    func testSlowSteadyReaderKeepsItsConnection() throws {
        let f = try LargeDownloadFixture()
        defer { f.stop() }
        let client = try f.clientDownloading(1)
        // 64 KiB every 100 ms (about 640 KB/s) for 7 s: far slower than the proxy can send,
        // so its socket stays full, but never idle.
        var buffer = [UInt8](repeating: 0, count: 65536)
        var total = 0
        let end = Date().addingTimeInterval(7)
        while Date() < end {
            let n = buffer.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { break }
            if n > 0 { total += n }
            usleep(100_000)
        }
        XCTAssertEqual(f.metric("causeway_stalled_write_closes_total"), 0)
        XCTAssertEqual(f.metric("causeway_stream_idle_timeouts_total"), 0)
        XCTAssertEqual(f.metric("causeway_downstream_connections_active"), 1)
        XCTAssertGreaterThan(total, 1 << 20, "read only \(total) bytes")
    }
}

/// Resets the proxy relays for a failing upstream are not the client's doing.
final class UpstreamResetAccountingTests: XCTestCase {
    func testManyUpstreamResetsDoNotEndTheClientsConnection() throws {
        let dir = try TempDir()
        let upstream = try ScriptedUpstream.resetting()
        let sidecar = try CausewaySidecar(dir: dir, services: ["flaky": [TestEndpoint(port: upstream.port)]], workers: 1)
        defer { sidecar.stop() }
        let client = try H2TestPeer.connect(port: sidecar.port)
        var ids: [Int32] = []
        // 100: the tracker's whole window (the scripted upstream takes 100 streams at a time).
        for _ in 0..<100 {
            ids.append(client.session.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "flaky"),
                                                                 (":path", "/")]), body: nil))
        }
        XCTAssertTrue(try client.pump(seconds: 20) { ids.allSatisfy { client.closed[$0] != nil } },
                      "closed \(client.closed.count) of \(ids.count)")
        // Every stream was reset, each on the upstream's behalf; the connection still works.
        XCTAssertTrue(ids.allSatisfy { client.closed[$0] != 0 })
        let metrics = try sidecar.admin("/metrics")
        XCTAssertTrue(metrics.contains("causeway_premature_reset_goaways_total{cluster=\"test-cluster\"} 0"), metrics)
        let last = client.session.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "flaky"),
                                                             (":path", "/")]), body: nil)
        XCTAssertTrue(try client.pump(seconds: 10) { client.statuses[last] == 200 || client.closed[last] != nil })
        XCTAssertEqual(client.statuses[last], 200)
    }
}

/// Floods of frames that carry nothing end the connection with GOAWAY ENHANCE_YOUR_CALM;
/// the proxy keeps serving others.
final class FrameFloodTests: XCTestCase {
    private func flood(_ kind: String) throws {
        let f = try AbuseFixture()
        defer { f.stop() }
        let r = try PythonPeer.run("flood.py", ["--port", String(f.sidecar.port), "--kind", kind, "--frames", "3000"], timeout: 60)
        XCTAssertTrue(r.bool("goaway"), "no GOAWAY after \(r.int("sent") ?? 0) \(kind) frames: \(r)")
        XCTAssertEqual(r.int("goaway_code"), 0xb, "\(r)")
        XCTAssertTrue(f.sidecar.process.process.isRunning, f.sidecar.process.log)
        XCTAssertEqual(try f.get().code, "200")
    }

    func testSettingsFloodEndsTheConnection() throws { try flood("settings") }

    func testEmptyDataFloodEndsTheConnection() throws { try flood("empty-data") }
}

/// `timeouts.maxConnectionAge`: old connections are drained (GOAWAY, then closed once their
/// streams are done) and counted.
final class ConnectionAgeTests: XCTestCase {
    func testConnectionsOlderThanTheMaximumAgeAreDrained() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hi\n")
        let backend = try NghttpdBackend(docroot: dir.path("www"))
        defer { backend.stop() }
        let sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]], workers: 1,
                                          extraProxySpec: "  timeouts: { maxConnectionAge: 10s }")
        defer { sidecar.stop() }
        let client = try H2TestPeer.connect(port: sidecar.port)
        let id = client.session.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", "backend"),
                                                           (":path", "/hello")]), body: nil)
        XCTAssertTrue(try client.pump(seconds: 5) { client.closed[id] != nil })
        XCTAssertEqual(client.statuses[id], 200)
        let opened = Date()
        // The connection stays usable until it is 10 s old (swept each second), then closes.
        _ = try client.pump(seconds: 16)
        let lived = Date().timeIntervalSince(opened)
        XCTAssertGreaterThan(lived, 8, "closed after \(lived) s")
        XCTAssertLessThan(lived, 15.5, "not closed after \(lived) s")
        let metrics = try sidecar.admin("/metrics")
        XCTAssertTrue(metrics.contains("causeway_connection_age_drains_total{cluster=\"test-cluster\"} 1"), metrics)
    }
}
