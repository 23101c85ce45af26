import Foundation
import XCTest

/// A pod that knows nothing of the mesh: cluster1's sidecar runs in a "pod" network
/// namespace with capture applied by `causeway capture --apply` and the pod's resolver
/// pointing at a DNS server address that capture redirects to the sidecar; cluster2's
/// gateway and an nghttpd backend run in a "cluster2" namespace reached over a veth pair.
/// The sidecar learns `webapp` from cluster2's export stream (no mirror files), so the
/// names the pod uses exist only because mirroring made them.
final class TransparentPod {
    let dir: TempDir
    let lab: NetnsLab
    let pod: Netns
    let cluster2: Netns
    let podIP: String
    let cluster2IP: String
    let pki: MeshPKI
    let backend: TestProcess
    let gateway: TestProcess
    let sidecar: TestProcess
    let sidecarConfig: String
    let sidecarAdminPort: UInt16 = 15000
    static let gatewayPort: UInt16 = 15443

    init() throws {
        dir = try TempDir()
        lab = try NetnsLab()
        do {
            pod = try lab.namespace("pod")
            cluster2 = try lab.namespace("cluster2")
            let link = try lab.link(pod, cluster2)
            (podIP, cluster2IP) = (link.a, link.b)
            // Virtual IPs need a route to leave by (the nat rule redirects them before they do).
            try pod.ip(["route", "add", "default", "via", cluster2IP])
            pki = try MeshPKI(dir: dir)
            try dir.write("www/hello", "hello from cluster2\n")

            // cluster2: nghttpd (h2c, echoes uploads, logs headers) behind a gateway that
            // exports webapp; a resolver for names outside the mesh.
            backend = try lab.start("nghttpd", in: cluster2, "nghttpd",
                                    ["--no-tls", "--echo-upload", "-v", "-d", dir.path("www"), "8080"])
            try cluster2.waitListening(8080, process: backend)
            let resolver = try lab.start("dns-upstream", in: cluster2, "python3",
                                         ["-u", "-B", PythonPeer.script("dns_upstream.py"), "--bind", cluster2IP, "--port", "53"])
            _ = try PythonPeer.wait(for: resolver, timeout: 20) { $0.int("port") == 53 }
            try dir.write("cluster2/gateway.yaml", """
            apiVersion: causeway.dev/v1alpha1
            kind: Proxy
            metadata: { name: cluster2-gateway }
            spec:
              cluster: cluster2
              trustDomain: \(MeshPKI.trustDomain)
              workers: 1
              tls: { trustBundle: "\(pki.rootPath)", certificateChain: "\(pki.chain("cluster2", "gateway"))", privateKey: "\(pki.key("cluster2", "gateway"))" }
              listeners:
              - { name: east-west, role: gateway, address: "\(cluster2IP):\(Self.gatewayPort)" }
              admin: { address: "127.0.0.1:15000" }
            ---
            apiVersion: multicluster.x-k8s.io/v1alpha1
            kind: ServiceExport
            metadata: { name: webapp, namespace: production }
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: { name: webapp-1, namespace: production, labels: { kubernetes.io/service-name: webapp } }
            addressType: IPv4
            ports: [ { name: http, port: 8080, protocol: TCP, appProtocol: kubernetes.io/h2c } ]
            endpoints: [ { addresses: [ "127.0.0.1" ], conditions: { ready: true } } ]

            """)
            gateway = try lab.start("gateway", in: cluster2, try causewayBinary(), ["run", "--config", dir.path("cluster2/gateway.yaml")])
            try cluster2.waitListening(Self.gatewayPort, process: gateway)

            // cluster1's sidecar in the pod: capture, DNS, and a Link to cluster2 only.
            sidecarConfig = dir.path("cluster1/sidecar.yaml")
            try dir.write("cluster1/sidecar.yaml", """
            apiVersion: causeway.dev/v1alpha1
            kind: Proxy
            metadata: { name: cluster1-sidecar }
            spec:
              cluster: cluster1
              trustDomain: \(MeshPKI.trustDomain)
              namespace: production
              workers: 2
              tls: { trustBundle: "\(pki.rootPath)", certificateChain: "\(pki.chain("cluster1", "sidecar"))", privateKey: "\(pki.key("cluster1", "sidecar"))" }
              listeners:
              - { name: outbound, role: sidecar, address: "127.0.0.1:15001" }
              admin: { address: "127.0.0.1:\(sidecarAdminPort)" }
              capture: { mark: 1337, excludePorts: [ 22 ], sniffTimeout: 100ms }
              dns: { address: "127.0.0.1:15053", virtualIPs: 240.240.0.0/16, upstream: "\(cluster2IP):53" }
            ---
            apiVersion: causeway.dev/v1alpha1
            kind: Link
            metadata: { name: cluster2 }
            spec:
              cluster: cluster2
              gateways: [ "\(cluster2IP):\(Self.gatewayPort)" ]
              identity: \(MeshPKI.gatewayID)

            """)
            sidecar = try lab.start("sidecar", in: pod, try causewayBinary(), ["run", "--config", sidecarConfig])
            try pod.waitListening(15001, process: sidecar)
            // The pod's resolver is cluster2's address, as a pod's is kube-dns: capture sends
            // its port 53 to the sidecar, which forwards what is not the mesh's there.
            try pod.setResolvConf("nameserver \(cluster2IP)\noptions ndots:5 attempts:1 timeout:3\n")
            try pod.must(try causewayBinary(), ["capture", "--config", sidecarConfig, "--apply"])
        } catch {
            lab.teardown()
            throw error
        }
    }

    func teardown() { lab.teardown() }

    /// curl in the pod, no proxy settings: `-sS`, 60 s at most, plus `arguments`.
    func curl(_ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try pod.run("curl", ["-sS", "--noproxy", "*", "--max-time", String(Int(timeout))] + arguments, timeout: timeout + 10)
    }

    /// Waits until the pod resolves and reaches `url` (mirroring has delivered its name).
    func waitUntilServed(_ url: String, timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            let r = try curl(["-o", "/dev/null", "-w", "%{http_code}", url], timeout: 5)
            if r.stdoutText == "200" { return }
            last = "\(r.stdoutText) \(r.stderr)"
            usleep(200_000)
        }
        throw HarnessError("\(url) not served from the pod within \(Int(timeout)) s: \(last)\nsidecar:\n\(sidecar.logTail(lines: 30))")
    }

    /// `dig` in the pod with its own resolver (no server named): what an application's
    /// lookups see.
    func dig(_ name: String, _ type: String = "A") throws -> DigAnswer {
        let r = try pod.run("dig", [name, type, "+tries=1", "+time=5"], timeout: 30)
        return Dig.parse(r.stdoutText + r.stderr)
    }
}

/// Issue 7's first user: an ordinary HTTP/1.1 client in a pod calls a remote cluster's
/// Service by name and the mesh does the rest (DNS, capture, original destination, HTTP/1.1
/// carried as HTTP/2 over mTLS, identity at the backend).
final class TransparentPodTests: XCTestCase {
    private var fixture: TransparentPod?

    override func setUpWithError() throws {
        try NetnsLab.requireAvailable()
        fixture = try TransparentPod()
    }

    override func tearDown() {
        fixture?.teardown()
        fixture = nil
    }

    private var f: TransparentPod { fixture! }
    private let remoteName = "webapp-cluster2.production.svc.cluster.local"
    private let clustersetName = "webapp.production.svc.clusterset.local"

    /// Names resolve in the pod through the captured resolver: mesh names to virtual IPs,
    /// others forwarded to the pod's real resolver; plain curl by name reaches cluster2's
    /// backend, which sees the caller's SPIFFE identity in XFCC.
    func testPlainCurlByRemoteNameReachesTheBackendWithTheCallersIdentity() throws {
        try f.waitUntilServed("http://\(remoteName)/hello")
        let mesh = try f.dig(remoteName)
        XCTAssertEqual(mesh.status, "NOERROR", mesh.output)
        XCTAssertEqual(mesh.addresses.count, 1, mesh.output)
        XCTAssertTrue(mesh.addresses.first?.hasPrefix("240.240.") ?? false, mesh.output)
        let other = try f.dig("example.test")
        XCTAssertEqual(other.addresses, ["192.0.2.10"], "a name outside the mesh is forwarded: \(other.output)")

        let r = try f.curl(["-v", "http://\(remoteName)/hello"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdoutText, "hello from cluster2\n")
        XCTAssertTrue(r.stderr.contains("HTTP/1.1 200"), r.stderr)
        XCTAssertTrue(r.stderr.lowercased().contains("x-causeway-upstream-cluster: cluster2"), r.stderr)
        let backendLog = f.backend.log.lowercased()
        XCTAssertTrue(backendLog.contains("x-forwarded-client-cert"), "no XFCC at the backend")
        XCTAssertTrue(backendLog.contains(MeshPKI.sidecarID.lowercased()), "the caller's identity is not in XFCC")

        // The same name over h2c with prior knowledge, and from Python's urllib.
        let h2 = try f.curl(["--http2-prior-knowledge", "http://\(remoteName)/hello"])
        XCTAssertEqual(h2.stdoutText, "hello from cluster2\n", h2.stderr)
        let py = try f.pod.run("python3", ["-c", "import urllib.request; print(urllib.request.urlopen('http://\(remoteName)/hello', timeout=20).read().decode(), end='')"])
        XCTAssertEqual(py.stdoutText, "hello from cluster2\n", py.stderr)

        // The clusterset name, which only mirroring provides.
        try f.waitUntilServed("http://\(clustersetName)/hello")
        let set = try f.curl(["http://\(clustersetName)/hello"])
        XCTAssertEqual(set.stdoutText, "hello from cluster2\n", set.stderr)

        let metrics = try f.pod.must("curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(f.sidecarAdminPort)/metrics"]).stdoutText
        XCTAssertTrue(metrics.contains("causeway_dns_queries_total"), metrics)
    }

    /// 100 MiB each way over HTTP/1.1, byte-exact, and pipelined requests answered in order.
    func testHundredMiBBothWaysAndPipelining() throws {
        try f.waitUntilServed("http://\(remoteName)/hello")
        let original = try f.dir.randomFile("www/big.bin", size: 100 << 20, seed: 7)
        let down = f.dir.path("down.bin")
        let d = try f.curl(["--http1.1", "-o", down, "http://\(remoteName)/big.bin"], timeout: 180)
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: down)) == original, "download differs")
        try FileManager.default.removeItem(atPath: down)

        let echoed = f.dir.path("echo.bin")
        let u = try f.curl(["--http1.1", "--data-binary", "@" + f.dir.path("www/big.bin"), "-o", echoed, "http://\(remoteName)/echo"],
                           timeout: 180)
        XCTAssertEqual(u.status, 0, u.stderr)
        XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: echoed)) == original, "upload echo differs")
        try FileManager.default.removeItem(atPath: echoed)
        try FileManager.default.removeItem(atPath: f.dir.path("www/big.bin"))

        // Three requests in one write on one connection to the name's virtual IP.
        try f.dir.write("www/one", "one\n")
        try f.dir.write("www/two", "two\n")
        try f.dir.write("www/three", "three\n")
        let script = """
        import socket
        host = "\(remoteName)"
        s = socket.create_connection((host, 80), timeout=20)
        s.sendall(b"".join(b"GET /%s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n" % (p, host.encode()) for p in (b"one", b"two", b"three")))
        data = b""
        while data.count(b"HTTP/1.1 200") < 3 or not data.endswith(b"three\\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        print(data.decode("latin-1"))
        """
        let r = try f.pod.run("python3", ["-c", script], timeout: 40)
        let text = r.stdoutText
        let positions = ["one\n", "two\n", "three\n"].map { text.range(of: "\r\n\r\n" + $0)?.lowerBound }
        XCTAssertTrue(positions.allSatisfy { $0 != nil }, "missing responses: \(text) \(r.stderr)")
        if let a = positions[0], let b = positions[1], let c = positions[2] {
            XCTAssertTrue(a < b && b < c, "answered out of order: \(text)")
        }
    }
}
