import Foundation
import XCTest
import Glibc

/// The admin listener under careless or hostile clients: a connection limit and a deadline
/// per request, so idle connections cannot pile up.
final class AdminListenerTests: XCTestCase {
    private func connect(_ port: UInt16) -> Int32 { Ports.connectedSocket(port, receiveTimeout: 0.2) }

    /// True when the server closed `fd` (EOF or reset) within the receive timeout.
    private func closedByServer(_ fd: Int32) -> Bool {
        var b = [UInt8](repeating: 0, count: 16)
        let n = recv(fd, &b, 16, 0)
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    func testIdleConnectionsAreLimitedAndTimedOut() throws {
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: [:], workers: 1)
        defer { sidecar.stop() }
        usleep(300_000)  // the harness's port probes are gone
        let held = (0..<64).map { _ in connect(sidecar.adminPort) }
        defer { for fd in held { Glibc.close(fd) } }
        usleep(300_000)
        // Over the limit: closed at accept.
        let extra = connect(sidecar.adminPort)
        defer { Glibc.close(extra) }
        XCTAssertTrue(closedByServer(extra), "the 65th admin connection was kept")
        XCTAssertFalse(closedByServer(held[0]), "an idle connection was closed at once")
        // Within the request deadline (10 s, swept each second) every idle one is gone...
        let deadline = Date().addingTimeInterval(15)
        var open = held
        while Date() < deadline && !open.isEmpty {
            open = open.filter { !closedByServer($0) }
        }
        XCTAssertTrue(open.isEmpty, "\(open.count) idle admin connections still open")
        // ...and the admin server answers again.
        XCTAssertEqual(try sidecar.admin("/ready"), "ready\n")
    }
}

/// Slowloris: a client that starts a header block (or the preface) and never finishes it is
/// closed after `timeouts.requestHeaders`, and counted.
final class RequestHeadersTimeoutTests: XCTestCase {
    private func rawConnect(_ port: UInt16) -> Int32 { Ports.connectedSocket(port, receiveTimeout: 8) }

    /// Reads until EOF; the seconds it took, or nil if the connection stayed open 8 s.
    private func secondsUntilClosed(_ fd: Int32) -> Double? {
        let start = Date()
        var b = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &b, b.count, 0)
            if n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) { return Date().timeIntervalSince(start) }
            if n < 0 { return nil }
        }
    }

    func testUnfinishedHeaderBlockAndPrefaceAreClosed() throws {
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: [:], workers: 1, extraProxySpec: "  timeouts: { requestHeaders: 1s }")
        defer { sidecar.stop() }
        // HEADERS without END_HEADERS (one literal field), then nothing.
        let partialBlock = rawConnect(sidecar.port)
        defer { Glibc.close(partialBlock) }
        var bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]
        let field: [UInt8] = [0x00, 0x01, 0x78, 0x01, 0x79]  // literal without indexing: x: y
        bytes += [0, 0, UInt8(field.count), 1, 0, 0, 0, 0, 1] + field  // HEADERS, stream 1, no flags
        _ = bytes.withUnsafeBytes { send(partialBlock, $0.baseAddress, $0.count, 0) }
        // Half a preface, then nothing.
        let partialPreface = rawConnect(sidecar.port)
        defer { Glibc.close(partialPreface) }
        _ = Array("PRI * HTTP/2.0\r\n".utf8).withUnsafeBytes { send(partialPreface, $0.baseAddress, $0.count, 0) }

        let blockClosed = secondsUntilClosed(partialBlock)
        let prefaceClosed = secondsUntilClosed(partialPreface)
        XCTAssertNotNil(blockClosed, "an unfinished header block kept its connection open")
        XCTAssertNotNil(prefaceClosed, "an unfinished preface kept its connection open")
        let metrics = try sidecar.admin("/metrics")
        XCTAssertTrue(metrics.contains("causeway_request_header_timeouts_total{cluster=\"test-cluster\"} 2"), metrics)
    }
}
