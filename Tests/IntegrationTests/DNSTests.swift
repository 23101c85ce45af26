import Foundation
import XCTest

/// The sidecar's DNS server (`spec.dns`) with real `dig`, a loopback upstream resolver
/// (`Peers/dns_upstream.py`) and raw clients (`Peers/dns_client.py`). No question leaves
/// loopback.
final class DNSTests: XCTestCase {
    /// Virtual IPs the rule gives these names in 240.240.0.0/16 (`docs/dns.md`; pinned in
    /// `VirtualIPAllocatorTests` too).
    static let webappVIP = "240.240.165.39"         // webapp.production
    static let mirrorVIP = "240.240.80.149"         // webapp-cluster2.production
    static let clustersetVIP = "240.240.67.38"      // webapp.production.svc.clusterset.local

    private func sidecar(_ dir: TempDir, services: [String: [TestEndpoint]], upstream: DNSUpstreamPeer, more: String = "") throws -> CausewaySidecar {
        try CausewaySidecar(dir: dir, services: services, workers: 1, namespace: "production",
                            dns: "upstream: \"127.0.0.1:\(upstream.port)\"\(more.isEmpty ? "" : ", " + more)")
    }

    private func metric(_ sidecar: CausewaySidecar, _ series: String) throws -> Double {
        let text = try sidecar.admin("/metrics")
        guard let value = metricValue(text, series) else {
            throw HarnessError("no \(series) in /metrics:\n\(text)")
        }
        return value
    }

    private func outcome(_ name: String) -> String {
        "causeway_dns_queries_total{cluster=\"test-cluster\",outcome=\"\(name)\"}"
    }

    /// Polls `condition` every 100 ms for up to `timeout` seconds.
    private func eventually(_ timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }

    func testMeshNamesGetTheSameVirtualIPEverywhereAndAcrossReloads() throws {
        let upstream = try DNSUpstreamPeer()
        defer { upstream.stop() }
        let services = ["webapp": [TestEndpoint(port: 8080)], "api": [TestEndpoint(port: 8081)]]
        let dirA = try TempDir(), dirB = try TempDir()
        let a = try sidecar(dirA, services: services, upstream: upstream)
        defer { a.stop() }
        let b = try sidecar(dirB, services: services, upstream: upstream)
        defer { b.stop() }
        let portA = try XCTUnwrap(a.dnsPort), portB = try XCTUnwrap(b.dnsPort)

        for name in ["webapp", "webapp.production", "webapp.production.svc", "webapp.production.svc.cluster.local",
                     "WebApp.Production.SVC.cluster.local."] {
            let r = try Dig.ask(portA, name)
            XCTAssertEqual(r.status, "NOERROR", r.output)
            XCTAssertEqual(r.addresses, [Self.webappVIP], r.output)
            XCTAssertTrue(r.flags.contains("aa"), r.output)
            XCTAssertEqual(r.ttls, [30], r.output)
        }
        // Another process with the same table: the same addresses.
        XCTAssertEqual(try Dig.ask(portB, "webapp.production.svc.cluster.local").addresses, [Self.webappVIP])
        let api = try Dig.ask(portA, "api.production.svc.cluster.local").addresses
        XCTAssertEqual(api.count, 1)
        XCTAssertNotEqual(api, [Self.webappVIP])
        XCTAssertEqual(try Dig.ask(portB, "api.production").addresses, api)
        XCTAssertTrue(api[0].hasPrefix("240.240."), "\(api)")

        // TCP answers the same.
        let tcp = try Dig.ask(portA, "webapp.production.svc.cluster.local", "A", ["+tcp"])
        XCTAssertEqual(tcp.addresses, [Self.webappVIP], tcp.output)
        // AAAA without an IPv6 range: the name exists, with no records.
        let aaaa = try Dig.ask(portA, "webapp.production.svc.cluster.local", "AAAA")
        XCTAssertEqual(aaaa.status, "NOERROR", aaaa.output)
        XCTAssertEqual(aaaa.addresses, [], aaaa.output)
        XCTAssertTrue(aaaa.flags.contains("aa"), aaaa.output)
        // No clusterset Service here: every clusterset name is unknown.
        let nx = try Dig.ask(portA, "webapp.production.svc.clusterset.local")
        XCTAssertEqual(nx.status, "NXDOMAIN", nx.output)
        XCTAssertTrue(nx.flags.contains("aa"), nx.output)

        // A reload that adds a Service: it resolves, and the others keep their addresses.
        let config = try String(contentsOfFile: a.configPath, encoding: .utf8)
        try dirA.write("causeway.yaml", config + """
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: frontend-1, namespace: production, labels: { kubernetes.io/service-name: frontend } }
        addressType: IPv4
        ports: [ { name: http, port: 8082, protocol: TCP, appProtocol: kubernetes.io/h2c } ]
        endpoints: [ { addresses: [ "127.0.0.1" ] } ]

        """)
        XCTAssertTrue(try eventually(20) { try Dig.ask(portA, "frontend.production").addresses.count == 1 }, a.process.log)
        XCTAssertEqual(try Dig.ask(portA, "webapp").addresses, [Self.webappVIP])
        XCTAssertEqual(try Dig.ask(portA, "api.production").addresses, api)
        // b did not reload: frontend is not a mesh name there, so it is forwarded (the
        // upstream answers NXDOMAIN for it).
        XCTAssertFalse(try Dig.ask(portB, "frontend.production").flags.contains("aa"))

        XCTAssertGreaterThanOrEqual(try metric(a, outcome("mesh")), 10)
        XCTAssertEqual(try metric(a, outcome("nxdomain")), 1)
        XCTAssertEqual(try metric(a, outcome("malformed")), 0)
        // Only frontend was ever forwarded (by b, and by a until its reload).
        XCTAssertEqual(Set(upstream.queries.map(\.name)), ["frontend.production"])
    }

    func testMirroredAndClustersetNamesResolveAsMirroringAddsThem() throws {
        let dir = try TempDir()
        let mesh = try MirrorMesh(dir: dir, services: ["cluster2": ["webapp": 1]], dns: ["cluster1"])
        defer { mesh.stop() }
        let port = try mesh.dnsPort("cluster1")
        // Names the export stream adds at run time, not in any file of cluster1.
        XCTAssertTrue(try eventually(30) {
            try Dig.ask(port, "webapp-cluster2.production.svc.cluster.local").addresses == [Self.mirrorVIP]
        }, mesh.logs)
        XCTAssertEqual(try Dig.ask(port, "webapp-cluster2.production").addresses, [Self.mirrorVIP])
        let clusterset = try Dig.ask(port, "webapp.production.svc.clusterset.local")
        XCTAssertEqual(clusterset.addresses, [Self.clustersetVIP], clusterset.output)
        XCTAssertTrue(clusterset.flags.contains("aa"))
        XCTAssertEqual(try Dig.ask(port, "nope.production.svc.clusterset.local").status, "NXDOMAIN")
        XCTAssertEqual(try Dig.ask(port, "production.svc.clusterset.local").status, "NOERROR")

        // cluster3 starts exporting api: its mirror and clusterset names appear.
        try mesh.writeExport("cluster3", service: "api", readyEndpoints: 1)
        XCTAssertTrue(try eventually(30) { try Dig.ask(port, "api-cluster3.production").addresses.count == 1 }, mesh.logs)
        XCTAssertEqual(try Dig.ask(port, "api.production.svc.clusterset.local").addresses.count, 1)
        XCTAssertEqual(try Dig.ask(port, "webapp-cluster2.production").addresses, [Self.mirrorVIP])
        XCTAssertEqual(try Dig.ask(port, "webapp.production.svc.clusterset.local").addresses, [Self.clustersetVIP])
    }

    func testOtherNamesAreForwardedUpstreamOverUDPAndTCP() throws {
        let upstream = try DNSUpstreamPeer()
        defer { upstream.stop() }
        let dir = try TempDir()
        let s = try sidecar(dir, services: ["webapp": [TestEndpoint(port: 8080)]], upstream: upstream,
                            more: "upstreamTimeout: 500ms, virtualIPv6s: \"fd00:ca05::/48\"")
        defer { s.stop() }
        let port = try XCTUnwrap(s.dnsPort)

        let plain = try Dig.ask(port, "example.test")
        XCTAssertEqual(plain.status, "NOERROR", plain.output)
        XCTAssertEqual(plain.addresses, ["192.0.2.10"], plain.output)
        XCTAssertFalse(plain.flags.contains("aa"), plain.output)
        let overTCP = try Dig.ask(port, "example.test", "A", ["+tcp"])
        XCTAssertEqual(overTCP.addresses, ["192.0.2.10"], overTCP.output)
        XCTAssertTrue(upstream.queries.contains { $0 == ("tcp", "example.test") }, "\(upstream.queries)")

        // The upstream truncates over UDP: asked again over TCP, and the whole answer fits
        // dig's EDNS size.
        let big = try Dig.ask(port, "big.example.test")
        XCTAssertEqual(big.addresses.count, 60, big.output)
        XCTAssertFalse(big.flags.contains("tc"), big.output)
        XCTAssertTrue(upstream.queries.contains { $0 == ("tcp", "big.example.test") }, "\(upstream.queries)")
        // Without EDNS it does not fit 512 bytes: TC, and dig's own retry over TCP gets it all.
        let cut = try Dig.ask(port, "big.example.test", "A", ["+noedns", "+ignore"])
        XCTAssertTrue(cut.flags.contains("tc"), cut.output)
        XCTAssertEqual(cut.addresses, [], cut.output)
        XCTAssertLessThanOrEqual(try XCTUnwrap(cut.size), 512, cut.output)
        XCTAssertEqual(try Dig.ask(port, "big.example.test", "A", ["+noedns"]).addresses.count, 60)
        // An upstream that sends more over UDP than the client takes: cut to the client's size.
        let huge = try Dig.ask(port, "huge-udp.example.test", "A", ["+noedns", "+ignore"])
        XCTAssertTrue(huge.flags.contains("tc"), huge.output)
        XCTAssertLessThanOrEqual(try XCTUnwrap(huge.size), 512, huge.output)

        let nx = try Dig.ask(port, "nothing.example.test")
        XCTAssertEqual(nx.status, "NXDOMAIN", nx.output)
        XCTAssertFalse(nx.flags.contains("aa"), nx.output)
        // Forged replies (another id, another question) are dropped; the real one is relayed.
        XCTAssertEqual(try Dig.ask(port, "spoof.example.test").addresses, ["192.0.2.77"])
        XCTAssertEqual(try metric(s, "causeway_dns_upstream_replies_dropped_total{cluster=\"test-cluster\"}"), 2)
        // No answer within upstreamTimeout: SERVFAIL.
        let silent = try Dig.ask(port, "silent.example.test")
        XCTAssertEqual(silent.status, "SERVFAIL", silent.output)
        XCTAssertEqual(try metric(s, outcome("upstream-timeout")), 1)

        // With an IPv6 range, AAAA for a mesh name has an address in it.
        let v6 = try Dig.ask(port, "webapp.production.svc.cluster.local", "AAAA")
        XCTAssertEqual(v6.addresses.count, 1, v6.output)
        XCTAssertTrue(v6.addresses.first?.hasPrefix("fd00:ca05:") == true, v6.output)
        XCTAssertGreaterThanOrEqual(try metric(s, outcome("forwarded")), 9)
        XCTAssertEqual(try metric(s, "causeway_dns_forwards_pending{cluster=\"test-cluster\"}"), 0)
    }

    func testMalformedPacketsAreDroppedAndCountedAndTheServerKeepsAnswering() throws {
        let upstream = try DNSUpstreamPeer()
        defer { upstream.stop() }
        let dir = try TempDir()
        let s = try sidecar(dir, services: ["webapp": [TestEndpoint(port: 8080)]], upstream: upstream)
        defer { s.stop() }
        let port = try XCTUnwrap(s.dnsPort)
        let r = try PythonPeer.run("dns_client.py", ["malformed", "--port", String(port)])
        XCTAssertEqual(r.int("answers"), 0, r.text)
        // The TCP connection carried a loop, then a good query: only the good one answered.
        XCTAssertEqual(r.int("tcp_answer_id"), 0x7777, r.text)
        let sent = try XCTUnwrap(r.int("sent"))
        let counted = try eventually(5) { try metric(s, outcome("malformed")) == Double(sent) }
        XCTAssertTrue(counted, (try? s.admin("/metrics")) ?? "")
        XCTAssertTrue(s.process.process.isRunning, s.process.log)
        XCTAssertEqual(try Dig.ask(port, "webapp").addresses, [Self.webappVIP])
        XCTAssertEqual(try Dig.ask(port, "example.test").addresses, ["192.0.2.10"])
        XCTAssertTrue(upstream.queries.allSatisfy { $0.name == "example.test" }, "\(upstream.queries)")
    }

    func testAFloodNeverGetsAnswersLargerThanTheClientAllows() throws {
        let upstream = try DNSUpstreamPeer()
        defer { upstream.stop() }
        let dir = try TempDir()
        let s = try sidecar(dir, services: ["webapp": [TestEndpoint(port: 8080)]], upstream: upstream)
        defer { s.stop() }
        let port = String(try XCTUnwrap(s.dnsPort))

        // Without EDNS: at most 512 bytes, TC where the answer is larger.
        for name in ["huge-udp.example.test", "big.example.test"] {
            let r = try PythonPeer.run("dns_client.py", ["flood", "--port", port, "--name", name, "--count", "400"])
            let received = try XCTUnwrap(r.int("received"))
            XCTAssertGreaterThan(received, 300, r.text)
            XCTAssertLessThanOrEqual(try XCTUnwrap(r.int("max_size")), 512, r.text)
            XCTAssertEqual(r.int("truncated"), received, r.text)
            XCTAssertEqual(r.int("answers_total"), 0, r.text)
        }
        // Mesh names: each answer is the question plus one 16-byte record.
        let mesh = try PythonPeer.run("dns_client.py", ["flood", "--port", port, "--count", "400"])
        XCTAssertGreaterThan(try XCTUnwrap(mesh.int("received")), 300, mesh.text)
        XCTAssertEqual(mesh.int("max_size"), try XCTUnwrap(mesh.int("max_query")) + 16, mesh.text)
        XCTAssertEqual(mesh.int("truncated"), 0, mesh.text)
        // With EDNS 1232 the whole huge answer (994 bytes) fits, and nothing larger comes.
        let edns = try PythonPeer.run("dns_client.py", ["flood", "--port", port, "--name", "huge-udp.example.test", "--count", "200", "--edns", "1232"])
        XCTAssertLessThanOrEqual(try XCTUnwrap(edns.int("max_size")), 1232, edns.text)
        XCTAssertGreaterThan(try XCTUnwrap(edns.int("max_size")), 512, edns.text)
        XCTAssertEqual(edns.int("truncated"), 0, edns.text)
        // A client that claims 4096 bytes still gets at most the 1,232 we advertise: the
        // 1.6 KB answer goes back as TC (forged sources cannot make us send 1.6 KB).
        let claim = try PythonPeer.run("dns_client.py", ["flood", "--port", port, "--name", "huger-udp.example.test", "--count", "200", "--edns", "4096"])
        XCTAssertGreaterThan(try XCTUnwrap(claim.int("received")), 100, claim.text)
        XCTAssertLessThanOrEqual(try XCTUnwrap(claim.int("max_size")), 1232, claim.text)
        XCTAssertEqual(claim.int("truncated"), claim.int("received"), claim.text)
        XCTAssertEqual(try Dig.ask(UInt16(port)!, "huger-udp.example.test", "A", ["+bufsize=4096"]).addresses.count, 100)

        XCTAssertTrue(s.process.process.isRunning, s.process.log)
        XCTAssertEqual(try Dig.ask(UInt16(port)!, "webapp").addresses, [Self.webappVIP])
        XCTAssertGreaterThanOrEqual(try metric(s, "causeway_dns_truncated_total{cluster=\"test-cluster\"}"), 600)
    }

    func testPipelinedTCPQuestionsAreAllAnsweredWithFewInFlight() throws {
        let upstream = try DNSUpstreamPeer()
        defer { upstream.stop() }
        let dir = try TempDir()
        let s = try sidecar(dir, services: ["webapp": [TestEndpoint(port: 8080)]], upstream: upstream, more: "upstreamTimeout: 300ms")
        defer { s.stop() }
        let port = String(try XCTUnwrap(s.dnsPort))
        let answered = try PythonPeer.run("dns_client.py", ["pipeline", "--port", port, "--name", "example.test", "--count", "60"])
        XCTAssertEqual(answered.int("answered"), 60, answered.text)
        XCTAssertTrue(answered.bool("ids_match"), answered.text)
        XCTAssertEqual(answered.dict("rcodes") as? [String: Int], ["0": 60], answered.text)
        let mesh = try PythonPeer.run("dns_client.py", ["pipeline", "--port", port, "--name", "webapp", "--count", "60"])
        XCTAssertEqual(mesh.int("answered"), 60, mesh.text)
        XCTAssertTrue(mesh.bool("ids_match"), mesh.text)

        // 40 questions the upstream never answers, in one write: at most 16 wait at once
        // (the rest are not read yet), and every one gets SERVFAIL in the end.
        let silent = try PythonPeer.start("dns_client.py", ["pipeline", "--port", port, "--name", "silent.example.test", "--count", "40"])
        defer { silent.stop() }
        var highest = 0.0
        while PythonPeer.lines(of: silent).isEmpty && silent.process.isRunning {
            highest = max(highest, try metric(s, "causeway_dns_forwards_pending{cluster=\"test-cluster\"}"))
            usleep(50_000)
        }
        let result = try PythonPeer.wait(for: silent, timeout: 30) { $0.int("answered") != nil }
        XCTAssertEqual(result.int("answered"), 40, result.text)
        XCTAssertEqual(result.dict("rcodes") as? [String: Int], ["2": 40], result.text)
        XCTAssertGreaterThan(highest, 0)
        XCTAssertLessThanOrEqual(highest, 16)
        XCTAssertEqual(try metric(s, outcome("upstream-timeout")), 40)
    }

    /// 64 TCP connections (all the server takes) each trickling a byte of a query every 2 s:
    /// bytes of an unfinished message do not make a connection active, and a message must be
    /// finished within 10 s of its first byte, so every one is closed after 10 s (the sweep
    /// runs each second) and a new client is served again.
    func testTCPConnectionsTricklingBytesAreClosedAfterTheIdleTimeout() throws {
        let upstream = try DNSUpstreamPeer()
        defer { upstream.stop() }
        let dir = try TempDir()
        let s = try sidecar(dir, services: ["webapp": [TestEndpoint(port: 8080)]], upstream: upstream)
        defer { s.stop() }
        let port = String(try XCTUnwrap(s.dnsPort))
        let r = try PythonPeer.run("dns_client.py", ["trickle", "--port", port, "--name", "webapp.production.svc.cluster.local",
                                                     "--count", "64", "--interval", "2", "--duration", "16"], timeout: 60)
        XCTAssertEqual(r.int("opened"), 64, r.text)
        XCTAssertEqual(r.int("closed"), 64, r.text)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(r.double("first_closed_after")), 9.5, r.text)
        XCTAssertLessThanOrEqual(try XCTUnwrap(r.double("last_closed_after")), 13, r.text)
        XCTAssertTrue(r.bool("fresh_answered"), r.text)
        XCTAssertEqual(try metric(s, "causeway_dns_tcp_connections_rejected_total{cluster=\"test-cluster\"}"), 0)
    }

    /// A TCP client that asks and never reads fills its buffers and then 128 KiB of answers
    /// waiting here; once it has read nothing for 10 s it is closed (answers waiting are not
    /// activity), and its connection slot is free again.
    func testATCPClientThatNeverReadsIsClosedAfterTheIdleTimeout() throws {
        let upstream = try DNSUpstreamPeer()
        defer { upstream.stop() }
        let dir = try TempDir()
        let s = try sidecar(dir, services: ["webapp": [TestEndpoint(port: 8080)]], upstream: upstream)
        defer { s.stop() }
        let port = String(try XCTUnwrap(s.dnsPort))
        let r = try PythonPeer.run("dns_client.py", ["stalled", "--port", port, "--name", "webapp", "--count", "200000", "--duration", "14"],
                                   timeout: 60)
        XCTAssertGreaterThan(try XCTUnwrap(r.int("sent")), 3_000, r.text)
        XCTAssertLessThan(try XCTUnwrap(r.int("answers_read")), try XCTUnwrap(r.int("sent")), r.text)
        XCTAssertTrue(r.bool("closed_by_server"), r.text)
        XCTAssertEqual(try Dig.ask(UInt16(port)!, "webapp", "A", ["+tcp"]).addresses, [Self.webappVIP])
    }

    /// Forwarded UDP questions leave from many source ports, not one (RFC 5452): each
    /// socket carries at most 16 questions before a fresh one, from another random port,
    /// takes its place; every question is still answered.
    func testForwardedQuestionsLeaveFromRotatingSourcePorts() throws {
        let upstream = try DNSUpstreamPeer()
        defer { upstream.stop() }
        let dir = try TempDir()
        let s = try sidecar(dir, services: ["webapp": [TestEndpoint(port: 8080)]], upstream: upstream)
        defer { s.stop() }
        let port = String(try XCTUnwrap(s.dnsPort))
        let r = try PythonPeer.run("dns_client.py", ["flood", "--port", port, "--name", "example.test", "--count", "400"])
        XCTAssertEqual(r.int("received"), 400, r.text)
        XCTAssertEqual(r.dict("rcodes") as? [String: Int], ["0": 400], r.text)
        let ports = PythonPeer.lines(of: upstream.process).filter { $0.string("proto") == "udp" }.compactMap { $0.int("source_port") }
        XCTAssertEqual(ports.count, 400)
        var perPort: [Int: Int] = [:]
        for p in ports { perPort[p, default: 0] += 1 }
        // 16 questions a socket: at least 25 ports. (A port the kernel happens to give a later
        // socket again would count twice: allow for it.)
        XCTAssertGreaterThanOrEqual(perPort.count, 20, "\(perPort)")
        XCTAssertLessThanOrEqual(perPort.values.max() ?? 0, 32, "\(perPort)")
        // Consecutive questions do not all share one port.
        XCTAssertGreaterThan(Set(ports.prefix(8)).count, 1, "\(ports.prefix(8))")
        XCTAssertEqual(try metric(s, "causeway_dns_forwards_pending{cluster=\"test-cluster\"}"), 0)
        XCTAssertEqual(try metric(s, "causeway_dns_upstream_replies_dropped_total{cluster=\"test-cluster\"}"), 0)
    }

    func testAReloadMovesForwardingAndVirtualIPsToTheNewSettings() throws {
        let first = try DNSUpstreamPeer(), second = try DNSUpstreamPeer()
        defer { first.stop(); second.stop() }
        let dir = try TempDir()
        let s = try sidecar(dir, services: ["webapp": [TestEndpoint(port: 8080)]], upstream: first)
        defer { s.stop() }
        let port = try XCTUnwrap(s.dnsPort)
        XCTAssertEqual(try Dig.ask(port, "example.test").addresses, ["192.0.2.10"])
        XCTAssertEqual(first.queries.count, 1)

        let config = try String(contentsOfFile: s.configPath, encoding: .utf8)
        let moved = config.replacingOccurrences(of: "upstream: \"127.0.0.1:\(first.port)\"",
                                                with: "upstream: \"127.0.0.1:\(second.port)\", virtualIPs: 10.123.0.0/16")
        XCTAssertNotEqual(moved, config)
        try dir.write("causeway.yaml", moved)
        // The same name's address in the new range: number 42,278 of 240.240.0.0/16 is
        // 10.123.165.39 in 10.123.0.0/16.
        XCTAssertTrue(try eventually(20) { try Dig.ask(port, "webapp").addresses == ["10.123.165.39"] }, s.process.log)
        XCTAssertEqual(try Dig.ask(port, "example.test").addresses, ["192.0.2.10"])
        XCTAssertEqual(first.queries.count, 1)
        XCTAssertEqual(second.queries.map(\.name), ["example.test"])
    }

    /// On a non-loopback address (here the wildcard, in a "pod" namespace) the server answers
    /// this host's own processes only: a question from another host of the pod network is
    /// dropped (UDP) or its connection closed (TCP), never answered or forwarded. And a
    /// reload whose resolv.conf names this server itself (a local address on its port) is
    /// rejected: forwarding stays with the running upstream.
    func testOnAWildcardAddressOnlyThisHostIsAnsweredAndNeverItselfUpstream() throws {
        let lab = try NetnsLab()
        defer { lab.teardown() }
        let pod = try lab.namespace("pod"), outside = try lab.namespace("outside")
        let link = try lab.link(pod, outside)
        let (podIP, outsideIP) = (link.a, link.b)
        let resolver = try outside.start("dns-upstream", "python3", ["-u", "-B", PythonPeer.script("dns_upstream.py"), "--bind", outsideIP, "--port", "53"])
        _ = try PythonPeer.wait(for: resolver, timeout: 20) { $0.int("port") == 53 }
        let dir = try TempDir()
        try dir.write("resolv.conf", "nameserver \(outsideIP)\n")
        let s = try CausewaySidecar(dir: dir, services: ["webapp": [TestEndpoint(port: 8080)]], workers: 1,
                                    extraProxySpec: "  dns: { address: \"0.0.0.0:53\", upstream: resolv.conf }", namespace: "production", netns: pod)
        defer { s.stop() }
        try pod.waitListening(53, process: s.process)
        func dig(_ ns: Netns, _ server: String, _ name: String, _ options: [String] = []) throws -> DigAnswer {
            let r = try ns.run("dig", ["@\(server)", "-p", "53", name, "A", "+tries=1", "+time=2"] + options, timeout: 30)
            return Dig.parse(r.stdoutText + r.stderr)
        }
        func forwarded() -> [String] { PythonPeer.lines(of: resolver).compactMap { $0.string("name") } }

        // The pod itself, by loopback and by its interface's address: answered and forwarded.
        XCTAssertEqual(try dig(pod, "127.0.0.1", "webapp.production.svc.cluster.local").addresses, [Self.webappVIP])
        XCTAssertEqual(try dig(pod, podIP, "webapp.production.svc.cluster.local").addresses, [Self.webappVIP])
        XCTAssertEqual(try dig(pod, podIP, "webapp", ["+tcp"]).addresses, [Self.webappVIP])
        XCTAssertEqual(try dig(pod, podIP, "example.test").addresses, ["192.0.2.10"])
        // Another host: no answer over UDP or TCP, and nothing forwarded for it.
        let udp = try dig(outside, podIP, "webapp.production.svc.cluster.local")
        XCTAssertNil(udp.status, udp.output)
        XCTAssertNil(try dig(outside, podIP, "outside.example.test").status)
        let tcp = try dig(outside, podIP, "webapp", ["+tcp"])
        XCTAssertNil(tcp.status, tcp.output)
        XCTAssertEqual(try metric(s, outcome("refused-source")), 3)
        XCTAssertEqual(forwarded(), ["example.test"])

        // resolv.conf now names this host (where the server listens on 0.0.0.0:53): the
        // reload is refused, and forwarding stays with the resolver outside.
        try dir.write("resolv.conf", "nameserver \(podIP)\n")
        try dir.write("causeway.yaml", try String(contentsOfFile: s.configPath, encoding: .utf8) + "# reload\n")
        XCTAssertTrue(eventually(20) { s.process.log.contains("reload rejected") }, s.process.log)
        XCTAssertTrue(s.process.log.contains("the upstream resolver \(podIP):53 (the first nameserver of \(dir.path("resolv.conf"))) is an address of this host"), s.process.log)
        XCTAssertEqual(try dig(pod, "127.0.0.1", "example.test").addresses, ["192.0.2.10"])
        XCTAssertEqual(forwarded(), ["example.test", "example.test"])
    }
}
