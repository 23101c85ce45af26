import Foundation
import XCTest
import Glibc

/// The admin listener under careless or hostile clients: a connection limit and a deadline
/// per request, so idle connections cannot pile up.
final class AdminListenerTests: XCTestCase {
    private func connect(_ port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

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
