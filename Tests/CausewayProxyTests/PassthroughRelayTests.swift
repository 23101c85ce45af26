import Glibc
import XCTest
@testable import CausewayHTTP
@testable import CausewayLoop
@testable import CausewayMesh
@testable import CausewayProxy

/// `PassthroughRelay` on a worker of its own (no threads: the test drives the loop).
final class PassthroughRelayTests: XCTestCase {
    private func makeWorker() throws -> Worker {
        let settings = ProxySettings(cluster: "test", downstreamHTTP2: H2Settings(), upstreamHTTP2: H2Settings(),
                                     connectTimeoutNanos: 1_000_000_000, idleTimeoutNanos: 60_000_000_000,
                                     maxConnectionsPerEndpoint: 1)
        let snapshot = RoutingSnapshot(services: ServiceTable(services: [], defaultNamespace: "default"), settings: settings,
                                       tls: nil, version: 1)
        return Worker(loop: try EventLoop(), index: 0, snapshot: snapshot)
    }

    /// A client the loop cannot watch (epoll refuses a regular file with EPERM) closes the
    /// relay while it settles; the destination's socket, already closed (-1) by then, must not
    /// be registered after that (it indexed the loop's slots at -1 and trapped).
    func testAClientTheLoopRefusesClosesTheRelayAndNothingMore() throws {
        let worker = try makeWorker()
        let listener = try Sockets.listen(on: SocketAddress(ip: "127.0.0.1", port: 0)!, reusePort: false)
        defer { close(listener) }
        let destination = try XCTUnwrap(SocketAddress.local(of: listener))
        var template = Array("/tmp/causeway-relay-XXXXXX".utf8CString)
        let file = mkstemp(&template)
        XCTAssertGreaterThanOrEqual(file, 0)
        unlink(String(cString: template))
        worker.startPassthrough(fd: file, to: destination, initial: UnsafeRawBufferPointer(start: nil, count: 0))
        XCTAssertEqual(worker.openConnections, 0, "the relay is closed")
        XCTAssertEqual(worker.metrics.counters[.passthroughConnectionsActive], 0)
        XCTAssertEqual(worker.metrics.counters[.passthroughConnectionsTotal], 1)
        // The relay closed the client's descriptor.
        XCTAssertEqual(fcntl(file, F_GETFD), -1)
        worker.loop.runOnce(timeoutMillis: 0)
    }
}
