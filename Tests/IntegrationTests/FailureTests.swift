import Foundation
import XCTest
import Glibc

/// Requests the proxy cannot serve get a status and an `x-causeway-reason`; misbehaving
/// peers get errors, never a crash.
final class FailureTests: XCTestCase {
    func headers(of r: CommandResult) -> String { r.stdoutText.lowercased() }

    func testUnknownServiceIs404NoRoute() throws {
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: [:])
        defer { sidecar.stop() }
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-H", "host: nowhere.default", sidecar.url("/x")])
        XCTAssertTrue(headers(of: r).contains("http/2 404"), r.stdoutText)
        XCTAssertTrue(headers(of: r).contains("x-causeway-reason: no-route"), r.stdoutText)
    }

    /// A request answered by the proxy while its body is still arriving: the client gets
    /// the whole answer, then RST_STREAM(NO_ERROR) telling it to stop sending (RFC 9113
    /// §8.1) instead of uploading a body nobody reads; the connection stays usable.
    func testAnsweredRequestWithABodyStillArrivingIsToldToStop() throws {
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: [:])
        defer { sidecar.stop() }
        let r = try PythonPeer.run("h2_client.py", ["--port", String(sidecar.port), "--method", "POST", "--authority", "nowhere.default",
                                                    "--path", "/upload", "--body", "first part", "--no-end-stream", "--linger", "5"])
        XCTAssertEqual(r.int("status"), 404, r.text)
        XCTAssertEqual(r.string("outcome"), "response", r.text)
        XCTAssertEqual(r.int("rst_after_response"), 0, "no RST_STREAM(NO_ERROR) after the answer: \(r.text)")
        // A request that ended is answered without a reset.
        let ended = try PythonPeer.run("h2_client.py", ["--port", String(sidecar.port), "--method", "POST", "--authority", "nowhere.default",
                                                        "--path", "/upload", "--body", "whole", "--linger", "2"])
        XCTAssertEqual(ended.int("status"), 404, ended.text)
        XCTAssertNil(ended.int("rst_after_response"), ended.text)
    }

    func testBackendDownIs503ConnectFailure() throws {
        let dir = try TempDir()
        let closedPort = Ports.free()
        let sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: closedPort)]])
        defer { sidecar.stop() }
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-H", "host: backend", sidecar.url("/x")])
        XCTAssertTrue(headers(of: r).contains("http/2 503"), r.stdoutText)
        XCTAssertTrue(headers(of: r).contains("x-causeway-reason: upstream-connect-failure"), r.stdoutText)
        // The proxy is still serving.
        let again = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "-H", "host: backend", sidecar.url("/x")])
        XCTAssertEqual(again.stdoutText, "503")
    }

    func testNoReadyEndpointIs503NoHealthyUpstream() throws {
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: 9, ready: false)]])
        defer { sidecar.stop() }
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-H", "host: backend", sidecar.url("/x")])
        XCTAssertTrue(headers(of: r).contains("http/2 503"), r.stdoutText)
        XCTAssertTrue(headers(of: r).contains("x-causeway-reason: no-healthy-upstream"), r.stdoutText)
    }

    func testHTTP1ClientGetsAReadableError() throws {
        let dir = try TempDir()
        let sidecar = try CausewaySidecar(dir: dir, services: [:])
        defer { sidecar.stop() }
        let r = try runCommand("curl", ["-sS", "--http1.1", "-D", "-", "-H", "host: backend", sidecar.url("/x")])
        XCTAssertTrue(headers(of: r).hasPrefix("http/1.1 404 not found"), r.stdoutText + r.stderr)
        XCTAssertTrue(headers(of: r).contains("x-causeway-reason: no-route"), r.stdoutText)
    }

    func testGarbageAndTruncatedPrefacesDoNotCrashTheProxy() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/hello", "hi\n")
        let backend = try NghttpdBackend(docroot: dir.path("www"))
        defer { backend.stop() }
        let sidecar = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]])
        defer { sidecar.stop() }
        let inputs: [[UInt8]] = [
            Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 4, 0xff, 0, 0, 0, 0, 0] + Array(repeating: 0xAB, count: 64),
            Array("PRI * HTTP/2.0\r\n".utf8),
            [0x16, 0x03, 0x01, 0x02, 0x00] + Array(repeating: 0x42, count: 300),
            Array(repeating: 0, count: 4096),
        ]
        for input in inputs {
            try RawSocket.sendAndClose(port: sidecar.port, bytes: input)
        }
        XCTAssertTrue(sidecar.process.process.isRunning, sidecar.process.log)
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "-H", "host: backend", sidecar.url("/hello")])
        XCTAssertEqual(r.stdoutText, "hi\n")
    }

    func testValidateReportsEveryProblemWithFileAndLineAndExits64() throws {
        let dir = try TempDir()
        try dir.write("bad.yaml", """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: p }
        spec:
          cluster: c1
          workers: 0
          listeners:
          - { name: outbound, role: sidecar, address: "127.0.0.1:99999" }
          bogus: 1
        """)
        let r = try runCommand(try causewayBinary(), ["validate", "--config", dir.path("bad.yaml")])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("bad.yaml:6:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("spec.workers"), r.stderr)
        XCTAssertTrue(r.stderr.contains("spec.listeners[0].address"), r.stderr)
        XCTAssertTrue(r.stderr.contains("spec.bogus"), r.stderr)
        let run = try runCommand(try causewayBinary(), ["run", "--config", dir.path("bad.yaml")])
        XCTAssertEqual(run.status, 64)
    }
}

/// A plain TCP client for sending bytes no well-behaved HTTP/2 client would send.
enum RawSocket {
    static func sendAndClose(port: UInt16, bytes: [UInt8]) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw HarnessError("connect to \(port) failed") }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buf = [UInt8](repeating: 0, count: 4096)
        _ = recv(fd, &buf, buf.count, 0)
    }
}
