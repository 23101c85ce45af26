import Foundation
import XCTest

/// A pod and a remote host in network namespaces joined by a veth pair (198.18.x.1 and .2),
/// the sidecar running in the pod with capture installed by `causeway capture --apply`.
/// Services of the sidecar, all on the remote host: `backend` (nghttpd, h2c, port 8080),
/// `tlssvc` (a TLS server, 9443) and `bannersvc` (a server that speaks first, 2526); other
/// servers the tests start there are not the mesh's. The sidecar serves DNS on
/// 127.0.0.1:15053 and forwards what is not the mesh's to the remote host's port 53.
final class CapturePod {
    /// `spec.capture` of the sidecar, with `more` fields (", field: value") at its end.
    static func capture(_ more: String = "", excludeUIDs: String = "4242") -> String {
        "  capture: { mark: 1337, excludePorts: [ 22 ], excludeCIDRs: [ 169.254.169.254/32 ], excludeUIDs: [ \(excludeUIDs) ], sniffTimeout: 100ms\(more) }"
    }

    /// Runs the sidecar as root without the capabilities that allow `SO_MARK`
    /// (`CAP_NET_ADMIN`, and `CAP_NET_RAW` since Linux 5.17): its connections are unmarked.
    static let withoutMarkCapabilities = ["setpriv", "--bounding-set=-net_admin,-net_raw", "--inh-caps=-net_admin,-net_raw", "--"]

    let dir: TempDir
    let lab: NetnsLab
    let pod: Netns
    let remote: Netns
    let podIP: String
    let remoteIP: String
    /// The IPv6 addresses, when asked for.
    private(set) var podIP6 = ""
    private(set) var remoteIP6 = ""
    private(set) var sidecar: CausewaySidecar!

    /// - Parameters:
    ///   - extraSpec: more `spec` lines of the sidecar's Proxy (after `capture`).
    ///   - captureFields: more fields of its `spec.capture` (", field: value").
    ///   - excludeUIDs: its `spec.capture.excludeUIDs` (the list's items).
    ///   - wrapper: runs the sidecar (`CausewaySidecar`'s `wrapper`).
    ///   - ipv6: also give the veth pair IPv6 addresses (2001:2:0:<k>::1 and ::2, RFC 5180's
    ///     benchmarking range) and the sidecar a listener on [::1]:15006.
    ///   - accessLog: whether the sidecar's listener writes an access log line per request.
    init(sidecar withSidecar: Bool = true, extraSpec: String = "", captureFields: String = "", excludeUIDs: String = "4242",
         wrapper: [String] = [], ipv6: Bool = false, accessLog: Bool = false) throws {
        dir = try TempDir()
        lab = try NetnsLab()
        do {
            pod = try lab.namespace("pod")
            remote = try lab.namespace("remote")
            let link = try lab.link(pod, remote)
            (podIP, remoteIP) = (link.a, link.b)
            try pod.ip(["route", "add", "default", "via", remoteIP])
            if ipv6 {
                podIP6 = "2001:2:0:\(link.index)::1"
                remoteIP6 = "2001:2:0:\(link.index)::2"
                try pod.ip(["-6", "addr", "add", "\(podIP6)/64", "dev", link.aInterface, "nodad"])
                try remote.ip(["-6", "addr", "add", "\(remoteIP6)/64", "dev", link.bInterface, "nodad"])
                try pod.ip(["-6", "route", "add", "default", "via", remoteIP6])
            }
            try dir.write("www/index.html", "hello from the remote host\n")
            guard withSidecar else { return }
            sidecar = try CausewaySidecar(dir: dir, services: [
                "backend": [TestEndpoint(ip: remoteIP, port: 8080)],
                "tlssvc": [TestEndpoint(ip: remoteIP, port: 9443)],
                "bannersvc": [TestEndpoint(ip: remoteIP, port: 2526)],
            ], extraProxySpec: Self.capture(captureFields, excludeUIDs: excludeUIDs) + "\n" + extraSpec, accessLog: accessLog,
               dns: "upstream: \"\(remoteIP):53\"", netns: pod,
               extraListeners: ipv6 ? ["{ name: outbound6, role: sidecar, address: \"[::1]:15006\" }"] : [], wrapper: wrapper)
            try apply()
        } catch {
            lab.teardown()
            throw error
        }
    }

    func teardown() {
        sidecar?.stop()
        lab.teardown()
    }

    // MARK: Capture

    @discardableResult
    func apply() throws -> CommandResult {
        try pod.must(try causewayBinary(), ["capture", "--config", sidecar.configPath, "--apply"])
    }

    @discardableResult
    func remove() throws -> CommandResult {
        try pod.must(try causewayBinary(), ["capture", "--config", sidecar.configPath, "--remove"])
    }

    /// The pod's nat rules that mention our chains (`iptables -t nat -S`).
    func ourRules(_ command: String = "iptables") throws -> [String] {
        try pod.must(command, ["-t", "nat", "-S"]).stdoutText.split(separator: "\n").map(String.init).filter { $0.contains("CAUSEWAY") }
    }

    /// Packets the rule of `CAUSEWAY_OUTPUT` whose text contains `match` has matched.
    func packets(matching match: String) throws -> Int {
        let listing = try pod.must("iptables", ["-t", "nat", "-L", "CAUSEWAY_OUTPUT", "-v", "-n", "-x"]).stdoutText
        for line in listing.split(separator: "\n") where line.contains(match) {
            if let n = line.split(separator: " ").first.flatMap({ Int($0) }) { return n }
        }
        throw HarnessError("no rule matching \(match) in:\n\(listing)")
    }

    /// Rewrites the sidecar's configuration with `edit` and reloads it (SIGHUP); returns the
    /// log from the reload's line on (its notes).
    @discardableResult
    func reload(_ edit: (String) -> String) throws -> String {
        let before = sidecar.process.log.components(separatedBy: "causeway: reloaded").count
        let yaml = try String(contentsOfFile: sidecar.configPath, encoding: .utf8)
        let edited = edit(yaml)
        guard edited != yaml else { throw HarnessError("the edit changed nothing") }
        try edited.write(toFile: sidecar.configPath, atomically: true, encoding: .utf8)
        kill(sidecar.process.pid, SIGHUP)
        let deadline = Date().addingTimeInterval(10)
        while sidecar.process.log.components(separatedBy: "causeway: reloaded").count == before {
            if Date() > deadline { throw HarnessError("no reload within 10 s:\n\(sidecar.process.log)") }
            usleep(20_000)
        }
        usleep(100_000)
        let log = sidecar.process.log
        return String(log[log.range(of: "causeway: reloaded", options: .backwards)!.lowerBound...])
    }

    // MARK: Servers on the remote host

    /// A `capture_peer.py` server on the remote host (or `ns`), once it listens.
    @discardableResult
    func peerServer(_ mode: String, port: UInt16, text: String = "causeway-test", in ns: Netns? = nil, bind: String? = nil,
                    _ extra: [String] = []) throws -> TestProcess {
        let ns = ns ?? remote
        let process = try ns.start("\(mode)-\(port)", "python3",
                                   ["-u", "-B", PythonPeer.script("capture_peer.py"), mode, "--bind", bind ?? "0.0.0.0",
                                    "--port", String(port), "--text", text] + extra)
        _ = try PythonPeer.wait(for: process, timeout: 20) { $0.int("listening") == Int(port) }
        return process
    }

    /// `python3 -m http.server` on the remote host, serving `dir/www`.
    @discardableResult
    func httpServer(port: UInt16 = 8000) throws -> TestProcess {
        let process = try remote.start("http.server", "python3", ["-m", "http.server", String(port), "--bind", remoteIP,
                                                                   "--directory", dir.path("www")])
        try remote.waitListening(port, process: process)
        return process
    }

    /// nghttpd (h2c) on the remote host: the `backend` service.
    @discardableResult
    func backend() throws -> TestProcess {
        let process = try remote.start("nghttpd", "nghttpd", ["--no-tls", "-d", dir.path("www"), "8080"])
        try remote.waitListening(8080, process: process)
        return process
    }

    /// `openssl s_server -www` on the remote host with a self-signed certificate for its
    /// address; returns the certificate's path (the only trust a client needs).
    func tlsServer(port: UInt16) throws -> String {
        let cert = dir.path("tls-cert.pem"), key = dir.path("tls-key.pem")
        if !FileManager.default.fileExists(atPath: cert) {
            let r = try runCommand("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                               "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=remote.test",
                                               "-addext", "subjectAltName=IP:\(remoteIP)"])
            guard r.status == 0 else { throw HarnessError("openssl req: \(r.stderr)") }
        }
        let process = try remote.start("s_server-\(port)", "openssl", ["s_server", "-quiet", "-www", "-accept", String(port),
                                                                       "-cert", cert, "-key", key])
        try remote.waitListening(port, process: process)
        return cert
    }

    // MARK: Clients in the pod

    /// A `capture_peer.py` client run in the pod.
    func peer(_ mode: String, _ arguments: [String]) throws -> PeerResult {
        let r = try pod.run("python3", ["-B", PythonPeer.script("capture_peer.py"), mode] + arguments, timeout: 60)
        guard let line = r.stdoutText.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw HarnessError("capture_peer \(mode) printed nothing (exit \(r.status)): \(r.stderr)")
        }
        return try PeerResult(String(line))
    }

    /// curl in the pod: `-sS`, 20 s at most, plus `arguments`.
    func curl(_ arguments: [String]) throws -> CommandResult {
        try pod.run("curl", ["-sS", "--max-time", "20"] + arguments)
    }
}

/// Traffic capture in a pod's network namespace: `causeway capture --apply` redirects the
/// pod's outbound TCP to the sidecar, which reads each connection's original destination
/// and either serves it (a mesh address that speaks HTTP) or relays it unchanged (anything
/// else), with its own connections skipped by the mark.
final class CaptureTests: XCTestCase {
    private var fixture: CapturePod?

    override func tearDown() {
        fixture?.teardown()
        fixture = nil
        super.tearDown()
    }

    private func makePod(sidecar: Bool = true, extraSpec: String = "", captureFields: String = "", excludeUIDs: String = "4242",
                         wrapper: [String] = [], ipv6: Bool = false, accessLog: Bool = false) throws -> CapturePod {
        let pod = try CapturePod(sidecar: sidecar, extraSpec: extraSpec, captureFields: captureFields, excludeUIDs: excludeUIDs,
                                 wrapper: wrapper, ipv6: ipv6, accessLog: accessLog)
        fixture = pod
        return pod
    }

    /// `--apply` installs each rule once however often it runs, `--remove` leaves none of
    /// ours (and nothing else changes), and removing twice is fine.
    func testApplyIsIdempotentAndRemoveLeavesNoRules() throws {
        let t = try makePod()
        let before = try t.pod.must("iptables", ["-t", "nat", "-S"]).stdoutText.split(separator: "\n").filter { !$0.contains("CAUSEWAY") }
        try t.apply()
        let rules = try t.ourRules()
        XCTAssertEqual(rules.filter { $0 == "-A OUTPUT -j CAUSEWAY_OUTPUT" }.count, 1, "\(rules)")
        XCTAssertEqual(Set(rules).count, rules.count, "a rule installed twice: \(rules)")
        for expected in ["-N CAUSEWAY_OUTPUT", "-N CAUSEWAY_REDIRECT", "-N CAUSEWAY_DNS",
                         "-A CAUSEWAY_OUTPUT -m mark --mark 0x539 -j RETURN",
                         "-A CAUSEWAY_OUTPUT -m owner --uid-owner 4242 -j RETURN",
                         "-A CAUSEWAY_OUTPUT -p udp -m udp --dport 53 -j CAUSEWAY_DNS",
                         "-A CAUSEWAY_OUTPUT -o lo -j RETURN",
                         "-A CAUSEWAY_OUTPUT -p tcp -m tcp --dport 22 -j RETURN",
                         "-A CAUSEWAY_OUTPUT -d 169.254.169.254/32 -j RETURN",
                         "-A CAUSEWAY_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
                         "-A CAUSEWAY_DNS -p udp -j REDIRECT --to-ports 15053"] {
            XCTAssertTrue(rules.contains(expected), "missing \(expected) in \(rules)")
        }
        let removed = try t.remove()
        XCTAssertTrue(removed.stdoutText.contains("removed 1 jump(s)"), removed.stdoutText)
        XCTAssertEqual(try t.ourRules(), [])
        XCTAssertEqual(try t.ourRules("ip6tables"), [])
        let after = try t.pod.must("iptables", ["-t", "nat", "-S"]).stdoutText.split(separator: "\n")
        XCTAssertEqual(after, before)
        let again = try t.remove()
        XCTAssertTrue(again.stdoutText.contains("iptables: nothing of ours to remove"), again.stdoutText)
    }

    /// A plain HTTP server outside the mesh is reached through capture unchanged: 20 MiB
    /// byte-exact, none of the proxy's headers, counted as passthrough.
    func testPlainHTTPServerOutsideTheMeshIsPassedThroughUnchanged() throws {
        let t = try makePod()
        let data = try t.dir.randomFile("www/big.bin", size: 20 << 20)
        try t.httpServer()
        let out = t.dir.path("big.out")
        let r = try t.curl(["-D", t.dir.path("headers.txt"), "-o", out, "http://\(t.remoteIP):8000/big.bin"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), data)
        let headers = try String(contentsOfFile: t.dir.path("headers.txt"), encoding: .utf8).lowercased()
        XCTAssertTrue(headers.contains("server: simplehttp"), headers)
        XCTAssertFalse(headers.contains("x-causeway"), headers)
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 1)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_total"), 1)
        XCTAssertGreaterThanOrEqual(try t.sidecar.metric("causeway_passthrough_received_bytes_total"), 20 << 20)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_active"), 0)
        XCTAssertEqual(try t.sidecar.metric("causeway_downstream_connections_total"), 0, "served by the proxy instead")
    }

    /// A TLS server is reached with its own certificate (verified by the client against that
    /// certificate alone), outside the mesh and at a mesh endpoint address, where the
    /// sniffer sees a ClientHello and passes it through first.
    func testTLSServerIsReachedWithItsOwnCertificate() throws {
        let t = try makePod()
        let cert = try t.tlsServer(port: 8443)
        _ = try t.tlsServer(port: 9443)
        for port in [8443, 9443] {
            let r = try t.curl(["--cacert", cert, "https://\(t.remoteIP):\(port)/"])
            XCTAssertEqual(r.status, 0, "port \(port): \(r.stderr)")
            XCTAssertTrue(r.stdoutText.contains("s_server"), r.stdoutText)
        }
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_total"), 2)
        XCTAssertEqual(try t.sidecar.metric("causeway_capture_sniff_timeouts_total"), 0, "the ClientHello decided it")
    }

    /// A server that speaks first works: outside the mesh at once (no sniffing), at a mesh
    /// endpoint after the sniff timeout (the client sent nothing).
    func testServerSpeaksFirstProtocolWorks() throws {
        let t = try makePod()
        try t.peerServer("banner", port: 2525, text: "plain")
        try t.peerServer("banner", port: 2526, text: "mesh-endpoint")
        let plain = try t.peer("get-banner", ["--host", t.remoteIP, "--port", "2525"])
        XCTAssertEqual(plain.string("banner"), "220 plain", plain.text)
        XCTAssertEqual(plain.string("echo"), "echo: ping", plain.text)
        XCTAssertEqual(try t.sidecar.metric("causeway_capture_sniff_timeouts_total"), 0)
        let mesh = try t.peer("get-banner", ["--host", t.remoteIP, "--port", "2526"])
        XCTAssertEqual(mesh.string("banner"), "220 mesh-endpoint", mesh.text)
        XCTAssertEqual(mesh.string("echo"), "echo: ping", mesh.text)
        XCTAssertEqual(try t.sidecar.metric("causeway_capture_sniff_timeouts_total"), 1)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_total"), 2)
    }

    /// An upload whose end the client signals by half-closing arrives whole, and the
    /// server's answer, written after it saw that end, comes back: the half-close crossed
    /// the relay and the other direction stayed open.
    func testHalfCloseCrossesThePassthrough() throws {
        let t = try makePod()
        try t.peerServer("digest", port: 7000)
        let result = try t.peer("send-digest", ["--host", t.remoteIP, "--port", "7000", "--size", String(8 << 20)])
        XCTAssertNotNil(result.string("expected"), result.text)
        XCTAssertEqual(result.string("answer"), result.string("expected"), result.text)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_sent_bytes_total"), 8 << 20)
    }

    /// An HTTP client calling a mesh endpoint's address, or a virtual IP, is served by the
    /// proxy (routed by Host to `backend`, the response named by the sidecar), whose own
    /// connection to the same address carries the mark and is not captured again: one
    /// captured connection per client connection, and the mark rule matched.
    func testMeshAddressesAreServedByTheProxyWithoutALoop() throws {
        let t = try makePod()
        try t.backend()
        let markedBefore = try t.packets(matching: "mark match 0x539")
        for (i, url) in ["http://\(t.remoteIP):8080/index.html", "http://240.240.0.9/index.html"].enumerated() {
            let r = try t.curl(["-i", "-H", "Host: backend", url])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdoutText.hasPrefix("HTTP/1.1 200"), r.stdoutText)
            XCTAssertTrue(r.stdoutText.lowercased().contains("x-causeway-upstream-cluster: test-cluster"), r.stdoutText)
            XCTAssertTrue(r.stdoutText.hasSuffix("hello from the remote host\n"), r.stdoutText)
            XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), i + 1)
        }
        let h2 = try t.curl(["-i", "--http2-prior-knowledge", "-H", "Host: backend", "http://\(t.remoteIP):8080/index.html"])
        XCTAssertTrue(h2.stdoutText.hasPrefix("HTTP/2 200"), h2.stdoutText + h2.stderr)
        XCTAssertTrue(h2.stdoutText.contains("x-causeway-upstream-cluster: test-cluster"), h2.stdoutText)
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 3)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_total"), 0)
        XCTAssertGreaterThan(try t.packets(matching: "mark match 0x539"), markedBefore, "the proxy's upstream SYN was not marked")
        // An unknown Host at a mesh address is the proxy's answer, not a passthrough.
        let unknown = try t.curl(["-i", "-H", "Host: nowhere", "http://240.240.0.9/"])
        XCTAssertTrue(unknown.stdoutText.hasPrefix("HTTP/1.1 404"), unknown.stdoutText)
    }

    /// The access log says where each captured connection was headed, for HTTP/1.1 and
    /// HTTP/2 clients alike, and nothing for a connection made to the listener itself.
    func testAccessLogRecordsTheOriginalDestinationOfCapturedConnections() throws {
        let t = try makePod(accessLog: true)
        try t.backend()
        let requests: [([String], String)] = [
            (["http://\(t.remoteIP):8080/index.html"], "\(t.remoteIP):8080"),
            (["http://240.240.0.9/index.html"], "240.240.0.9:80"),
            (["--http2-prior-knowledge", "http://\(t.remoteIP):8080/index.html"], "\(t.remoteIP):8080"),
            (["http://127.0.0.1:\(t.sidecar.port)/index.html"], ""),
        ]
        for (args, _) in requests {
            let r = try t.curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: backend"] + args)
            XCTAssertEqual(r.stdoutText, "200", "\(args): " + r.stderr)
        }
        var lines: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            lines = t.sidecar.process.log.split(separator: "\n").compactMap { line in
                guard line.hasPrefix("{") else { return nil }
                return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            }
            if lines.count >= requests.count { break }
            usleep(100_000)
        }
        XCTAssertEqual(lines.count, requests.count, t.sidecar.process.log)
        XCTAssertEqual(lines.map { $0["status"] as? Int }, Array(repeating: 200, count: lines.count), "\(lines)")
        // Two workers: the lines may come in any order.
        let recorded = lines.map { ($0["original_destination"] as? String) ?? ($0["original_destination"] is NSNull ? "" : "missing") }
        XCTAssertEqual(recorded.sorted(), requests.map(\.1).sorted(), "\(lines)")
    }

    /// A virtual IP has nothing behind it: a connection to one that is not HTTP is closed
    /// and counted, and one that sends nothing is closed after the sniff timeout.
    func testVirtualIPThatIsNotHTTPIsClosed() throws {
        let t = try makePod()
        let r = try t.peer("raw", ["--host", "240.240.0.9", "--port", "5000", "--send", "HELLO\r\n"])
        XCTAssertEqual(r.string("received"), "", r.text)
        XCTAssertNotEqual(r.string("ending"), "timeout", r.text)
        let silent = try t.peer("raw", ["--host", "240.240.0.9", "--port", "5000"])
        XCTAssertNotEqual(silent.string("ending"), "timeout", silent.text)
        XCTAssertEqual(try t.sidecar.metric("causeway_capture_unroutable_total"), 2)
        XCTAssertEqual(try t.sidecar.metric("causeway_capture_sniff_timeouts_total"), 1)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_total"), 0)
    }

    /// Excluded ports and uids are not captured; a connect that fails at the destination
    /// resets the client and is counted.
    func testExclusionsAndRefusedDestinations() throws {
        let t = try makePod()
        try t.peerServer("banner", port: 22, text: "ssh")
        try t.peerServer("banner", port: 2525, text: "plain")
        XCTAssertEqual(try t.peer("get-banner", ["--host", t.remoteIP, "--port", "22"]).string("banner"), "220 ssh")
        XCTAssertEqual(try t.peer("get-banner", ["--host", t.remoteIP, "--port", "2525", "--uid", "4242"]).string("banner"), "220 plain")
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 0)
        // Nothing listens on 2527: the client sees its connection reset, as close to
        // "refused" as a connection already accepted can get.
        let refused = try t.peer("raw", ["--host", t.remoteIP, "--port", "2527", "--send", "x"])
        XCTAssertNotEqual(refused.string("ending"), "timeout", refused.text)
        XCTAssertEqual(refused.string("received"), "", refused.text)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connect_failures_total"), 1)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_active"), 0)
    }

    /// A sidecar that may not mark its connections (no `CAP_NET_ADMIN`/`CAP_NET_RAW`) and
    /// whose uid the rules do not exclude would have whatever it connects for a captured
    /// connection captured again (a passthrough multiplying until descriptors ran out): each
    /// captured connection is reset at accept, counted and logged, never relayed or served.
    func testUnmarkedSidecarRefusesCapturedConnections() throws {
        let t = try makePod(wrapper: CapturePod.withoutMarkCapabilities)
        try t.backend()
        try t.peerServer("banner", port: 2525, text: "plain")
        XCTAssertTrue(t.sidecar.process.log.contains("captured connections will be refused (reset at accept)"), t.sidecar.process.log)
        let plain = try t.peer("raw", ["--host", t.remoteIP, "--port", "2525", "--timeout", "10"])
        XCTAssertEqual(plain.string("received"), "", plain.text)
        XCTAssertEqual(plain.string("ending"), "reset", plain.text)
        let mesh = try t.curl(["-i", "-H", "Host: backend", "http://\(t.remoteIP):8080/index.html"])
        XCTAssertNotEqual(mesh.status, 0, mesh.stdoutText)
        XCTAssertEqual(try t.sidecar.metric("causeway_capture_refused_total"), 2)
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 2)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_total"), 0)
        XCTAssertEqual(try t.sidecar.metric("causeway_downstream_connections_total"), 0)
        XCTAssertEqual(try t.sidecar.metric("causeway_http1_downstream_connections_total"), 0)
        let log = t.sidecar.process.log
        XCTAssertTrue(log.contains("captured connection to \(t.remoteIP):2525 refused: the proxy's own connections carry no mark"), log)
        XCTAssertTrue(log.contains("its uid 0 is not in spec.capture.excludeUIDs"), log)

        // DNS: the forwarder's unmarked question to the pod's resolver is redirected back to
        // the sidecar's own DNS server, which recognises its own source port and drops it
        // instead of forwarding it again (a loop until its pending table filled).
        _ = try t.pod.run("dig", ["@\(t.remoteIP)", "outside.example.test", "A", "+tries=1", "+time=3"], timeout: 20)
        let metrics = try t.sidecar.admin("/metrics")
        let loops = metrics.split(separator: "\n").first { $0.contains("outcome=\"forwarding-loop\"") }
            .flatMap { $0.split(separator: " ").last.flatMap { Int(Double($0) ?? 0) } } ?? 0
        XCTAssertEqual(loops, 1, metrics)
        // The client's question was forwarded once and timed out (nothing upstream answers
        // it: its copy never left the pod); it did not come round again.
        let timedOut = metrics.split(separator: "\n").first { $0.contains("outcome=\"upstream-timeout\"") }
            .flatMap { $0.split(separator: " ").last.flatMap { Int(Double($0) ?? 0) } } ?? 0
        XCTAssertEqual(timedOut, 1, metrics)
    }

    /// Unmarked, but with its uid excluded by the rules: the proxy's connections are not
    /// captured, so captured connections are relayed as usual.
    func testUnmarkedSidecarWhoseUIDIsExcludedRelays() throws {
        let t = try makePod(excludeUIDs: "4242, 0", wrapper: CapturePod.withoutMarkCapabilities)
        try t.peerServer("banner", port: 2525, text: "plain")
        XCTAssertTrue(t.sidecar.process.log.contains("the capture rules skip the proxy's uid 0"), t.sidecar.process.log)
        // The client runs as another user: root's connections are not captured here.
        let r = try t.peer("get-banner", ["--host", t.remoteIP, "--port", "2525", "--uid", "1000"])
        XCTAssertEqual(r.string("banner"), "220 plain", r.text)
        XCTAssertEqual(r.string("echo"), "echo: ping", r.text)
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 1)
        XCTAssertEqual(try t.sidecar.metric("causeway_capture_refused_total"), 0)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_total"), 1)
    }

    /// The mark is read at start: the pod's rules, installed once by its init container, skip
    /// that one. A reload that changes it keeps it, and says so; the proxy's own connections
    /// are still not captured again.
    func testMarkChangesTakeEffectOnlyAfterARestart() throws {
        let t = try makePod()
        try t.backend()
        let notes = try t.reload { $0.replacingOccurrences(of: "mark: 1337", with: "mark: 99") }
        XCTAssertTrue(notes.contains("note: capture.mark changes take effect after a restart: connections keep mark 1337"), notes)
        let marked = try t.packets(matching: "mark match 0x539")
        let r = try t.curl(["-i", "-H", "Host: backend", "http://\(t.remoteIP):8080/index.html"])
        XCTAssertTrue(r.stdoutText.hasPrefix("HTTP/1.1 200"), r.stdoutText + r.stderr)
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 1)
        XCTAssertGreaterThan(try t.packets(matching: "mark match 0x539"), marked, "the proxy's upstream SYN did not carry mark 1337")
    }

    /// Without a `capture` section the sidecar reads no original destination (and
    /// `causeway capture` makes no rules for such a Proxy): a connection that rules installed
    /// earlier still redirect is served as if it had dialled the listener, neither counted
    /// as captured nor passed through.
    func testWithoutACaptureSectionNoOriginalDestinationIsRead() throws {
        let t = try makePod()
        try t.httpServer()
        try t.reload { $0.replacingOccurrences(of: CapturePod.capture() + "\n", with: "") }
        let r = try t.curl(["-i", "http://\(t.remoteIP):8000/index.html"])
        XCTAssertFalse(r.stdoutText.lowercased().contains("server: simplehttp"), "passed through: \(r.stdoutText)")
        XCTAssertTrue(r.stdoutText.hasPrefix("HTTP/1.1 404"), r.stdoutText + r.stderr)
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 0)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_total"), 0)
        let refused = try t.pod.run(try causewayBinary(), ["capture", "--config", t.sidecar.configPath])
        XCTAssertEqual(refused.status, 64, refused.stdoutText)
        XCTAssertTrue(refused.stderr.contains("no spec.capture section"), refused.stderr)
    }

    /// DNS from the pod, to whatever server its resolv.conf names (the remote host's
    /// resolver), is answered by the sidecar: a mesh name with its virtual IP (UDP and TCP),
    /// which an unmodified HTTP/1.1 client then reaches through the proxy. Other names are
    /// forwarded by the sidecar's own (marked) socket to the real resolver, not redirected
    /// back to it.
    func testDNSThroughTheSidecarAndItsVirtualIP() throws {
        let t = try makePod()
        try t.backend()
        let upstream = try t.remote.start("dns-upstream", "python3", ["-u", "-B", PythonPeer.script("dns_upstream.py"),
                                                                      "--bind", t.remoteIP, "--port", "53"])
        _ = try PythonPeer.wait(for: upstream, timeout: 20) { $0.int("port") == 53 }
        try t.pod.setResolvConf("nameserver \(t.remoteIP)\n")
        let name = "backend.default.svc.cluster.local"
        let udp = Dig.parse(try t.pod.run("dig", [name, "A", "+tries=1", "+time=5"]).stdoutText)
        XCTAssertEqual(udp.status, "NOERROR", udp.output)
        let vip = try XCTUnwrap(udp.addresses.first, udp.output)
        XCTAssertTrue(vip.hasPrefix("240.240."), udp.output)
        let tcp = Dig.parse(try t.pod.run("dig", [name, "A", "+tcp", "+tries=1", "+time=5"]).stdoutText)
        XCTAssertEqual(tcp.addresses, [vip], tcp.output)
        let other = Dig.parse(try t.pod.run("dig", ["example.test", "A", "+tries=1", "+time=5"]).stdoutText)
        XCTAssertEqual(other.addresses, ["192.0.2.10"], other.output)
        let asked = PythonPeer.lines(of: upstream).compactMap { $0.string("name") }
        XCTAssertEqual(asked, ["example.test"], "the upstream resolver saw \(asked)")
        let r = try t.curl(["-i", "http://\(name)/index.html"])
        XCTAssertTrue(r.stdoutText.hasPrefix("HTTP/1.1 200"), r.stdoutText + r.stderr)
        XCTAssertTrue(r.stdoutText.lowercased().contains("x-causeway-upstream-cluster: test-cluster"), r.stdoutText)
        XCTAssertTrue(r.stdoutText.hasSuffix("hello from the remote host\n"), r.stdoutText)
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 1)
    }

    /// After `--remove` the pod reaches the same server directly: the sidecar sees nothing.
    func testAfterRemoveTrafficGoesDirect() throws {
        let t = try makePod()
        try t.httpServer()
        XCTAssertEqual(try t.curl(["http://\(t.remoteIP):8000/index.html"]).stdoutText, "hello from the remote host\n")
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 1)
        try t.remove()
        XCTAssertEqual(try t.ourRules(), [])
        XCTAssertEqual(try t.curl(["http://\(t.remoteIP):8000/index.html"]).stdoutText, "hello from the remote host\n")
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 1)
    }

    /// Backpressure both ways: a destination floods a client that reads nothing for 2 s,
    /// then a client floods a destination that reads nothing for 2 s. 64 MiB arrive whole
    /// each way while the sidecar's memory grows by less than 16 MiB: the relay stops
    /// reading one side while the other does not take its bytes.
    func testPassthroughHoldsBoundedBuffersBothWays() throws {
        let t = try makePod()
        let size = 64 << 20
        try t.peerServer("flood", port: 7001, ["--size", String(size)])
        try t.peerServer("digest", port: 7002, ["--delay", "2"])
        // One relay first, so what the first one allocates for good is in the baseline.
        try t.peerServer("digest", port: 7003)
        _ = try t.peer("send-digest", ["--host", t.remoteIP, "--port", "7003", "--size", "1000"])
        let baseline = try XCTUnwrap(t.sidecar.process.residentBytes())
        let sampler = PeakRSSSampler(pid: t.sidecar.process.pid)
        let down = try t.peer("slow-read", ["--host", t.remoteIP, "--port", "7001", "--delay", "2", "--size", String(size), "--timeout", "60"])
        XCTAssertEqual(down.int("count"), size, down.text)
        XCTAssertEqual(down.string("sha256"), down.string("expected"), down.text)
        let up = try t.peer("send-digest", ["--host", t.remoteIP, "--port", "7002", "--size", String(size), "--timeout", "60"])
        XCTAssertEqual(up.string("answer"), up.string("expected"), up.text)
        let peak = sampler.stop()
        XCTAssertLessThan(peak - baseline, 16 << 20, "sidecar RSS went from \(baseline >> 20) MiB to \(peak >> 20) MiB")
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_active"), 0)
    }

    /// SIGTERM: the sidecar stops accepting and lets a passthrough connection run until the
    /// drain deadline (1 s here), then closes it and exits on its own.
    func testDrainClosesPassthroughAtItsDeadline() throws {
        let t = try makePod(extraSpec: "  timeouts: { drain: 1s }")
        try t.peerServer("banner", port: 2525, text: "held")
        let client = try t.pod.start("held-client", "python3", ["-u", "-B", PythonPeer.script("capture_peer.py"), "raw",
                                                                "--host", t.remoteIP, "--port", "2525", "--timeout", "60"])
        let deadline = Date().addingTimeInterval(20)
        while try t.sidecar.metric("causeway_passthrough_connections_active") == 0 {
            XCTAssertLessThan(Date(), deadline, "the relay never opened")
            if Date() > deadline { return }
            usleep(50_000)
        }
        kill(t.sidecar.process.pid, SIGTERM)
        try t.sidecar.process.waitForExit(timeout: 30)
        XCTAssertEqual(t.sidecar.process.exitStatus, 0, t.sidecar.process.log)
        let result = try PythonPeer.wait(for: client, timeout: 20) { $0.string("ending") != nil }
        XCTAssertEqual(result.string("received"), "220 held\r\n", result.text)
        XCTAssertEqual(result.string("ending"), "closed", result.text)
    }

    /// A passthrough connection with no byte either way for `capture.passthroughIdleTimeout`
    /// (3 s here) is closed and counted; `timeouts.idle` (1 s here, for the proxy's own
    /// clients) does not cut it.
    func testIdlePassthroughIsClosed() throws {
        let t = try makePod(extraSpec: "  timeouts: { idle: 1s }", captureFields: ", passthroughIdleTimeout: 3s")
        try t.peerServer("banner", port: 2525, text: "idle")
        let r = try t.peer("raw", ["--host", t.remoteIP, "--port", "2525", "--timeout", "30"])
        XCTAssertEqual(r.string("received"), "220 idle\r\n", r.text)
        XCTAssertEqual(r.string("ending"), "closed", r.text)
        // The sweep runs once a second: closed between 3 and about 4 s of silence.
        XCTAssertGreaterThanOrEqual(r.double("seconds") ?? 0, 2.9, "closed before the passthrough idle timeout: \(r.text)")
        XCTAssertLessThan(r.double("seconds") ?? 99, 10, r.text)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_idle_closes_total"), 1)
    }

    /// IPv6: with a sidecar listener on [::1] the IPv6 rules redirect to it, and the
    /// original destination is read with IP6T_SO_ORIGINAL_DST.
    func testIPv6IsCapturedAndPassedThrough() throws {
        let t = try makePod(ipv6: true)
        let applied = try t.apply().stdoutText
        XCTAssertTrue(applied.contains("causeway capture: IPv6 TCP -> [::1]:15006 (listener outbound6)\n"), applied)
        XCTAssertTrue(applied.contains("causeway capture: IPv6 DNS: not redirected (spec.dns.address 127.0.0.1:15053 takes IPv4 only"), applied)
        XCTAssertTrue(applied.contains("causeway capture: ip6tables: installed "), applied)
        let rules = try t.ourRules("ip6tables")
        XCTAssertTrue(rules.contains("-A CAUSEWAY_REDIRECT -p tcp -j REDIRECT --to-ports 15006"), "\(rules)")
        XCTAssertTrue(rules.contains("-A CAUSEWAY_OUTPUT -d ::1/128 -j RETURN"), "\(rules)")
        try t.peerServer("banner", port: 2525, text: "six", bind: "::")
        let r = try t.peer("get-banner", ["--host", t.remoteIP6, "--port", "2525"])
        XCTAssertEqual(r.string("banner"), "220 six", r.text)
        XCTAssertEqual(r.string("echo"), "echo: ping", r.text)
        XCTAssertEqual(try t.sidecar.metric("causeway_captured_connections_total"), 1)
        XCTAssertEqual(try t.sidecar.metric("causeway_passthrough_connections_total"), 1)
        try t.remove()
        XCTAssertEqual(try t.ourRules("ip6tables"), [])
    }
}
