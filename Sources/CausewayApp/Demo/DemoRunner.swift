import Foundation
import CausewayTLS

/// `causeway demo`: two clusters on loopback in one process, with certificates made on the
/// spot. cluster2 runs a built-in HTTP/2 responder (`webapp.production`, exported) behind
/// its east-west gateway; cluster1 runs a sidecar with a `Link` to that gateway and nothing
/// else: it learns `webapp-cluster2` (and the clusterset name) from the gateway's export
/// stream. A few requests cross; then cluster2 exports a second Service and cluster1's
/// mirror picks it up. Everything keeps running until SIGINT/SIGTERM so a person can try
/// it with curl.
public struct DemoRunner {
    public var sidecarPort: UInt16
    public var adminPort: UInt16
    public var requests: Int
    public var keepRunning: Bool

    public init(sidecarPort: UInt16 = 15001, adminPort: UInt16 = 15000, requests: Int = 3, keepRunning: Bool = true) {
        self.sidecarPort = sidecarPort
        self.adminPort = adminPort
        self.requests = requests
        self.keepRunning = keepRunning
    }

    static let trustDomain = "mesh.local"
    static let sidecarID = "spiffe://mesh.local/ns/default/sa/cluster1-sidecar"
    static let gatewayID = "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway"

    /// Runs the demo. Returns the number of sample requests that failed.
    public func run(print say: (String) -> Void) throws -> Int {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("causeway-demo-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // Certificates: one root, an intermediate per cluster, a leaf per proxy.
        let layout = CertsLayout(directory: dir + "/certs")
        let now = Date()
        _ = try layout.createRoot(keyAlgorithm: .ecP256, validity: .days(30, from: now), force: true)
        for cluster in ["cluster1", "cluster2"] {
            _ = try layout.createIntermediate(cluster: cluster, keyAlgorithm: .ecP256, validity: .days(20, from: now), force: true)
        }
        _ = try layout.issue(cluster: "cluster1", name: "sidecar", spiffeID: SPIFFEID(parsing: Self.sidecarID),
                             keyAlgorithm: .ecP256, validity: .days(10, from: now), force: true)
        _ = try layout.issue(cluster: "cluster2", name: "gateway", spiffeID: SPIFFEID(parsing: Self.gatewayID),
                             keyAlgorithm: .ecP256, validity: .days(10, from: now), force: true)

        // cluster2: the backends and the gateway.
        let backend = try DemoBackend.start(host: "127.0.0.1", port: 0, name: "webapp in cluster2")
        defer { backend.stop() }
        let backendPort = backend.address.split(separator: ":").last.map(String.init) ?? "0"
        let apiBackend = try DemoBackend.start(host: "127.0.0.1", port: 0, name: "api in cluster2")
        defer { apiBackend.stop() }
        let apiPort = apiBackend.address.split(separator: ":").last.map(String.init) ?? "0"
        func export(_ name: String, port: String) -> String {
            """
            ---
            apiVersion: multicluster.x-k8s.io/v1alpha1
            kind: ServiceExport
            metadata: { name: \(name), namespace: production }
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: { name: \(name)-1, namespace: production, labels: { kubernetes.io/service-name: \(name) } }
            addressType: IPv4
            ports: [ { name: http, port: \(port), protocol: TCP, appProtocol: kubernetes.io/h2c } ]
            endpoints: [ { addresses: [ "127.0.0.1" ], conditions: { ready: true } } ]

            """
        }
        let gatewayYAML = """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: cluster2-gateway }
        spec:
          cluster: cluster2
          trustDomain: \(Self.trustDomain)
          workers: 1
          tls: { trustBundle: \(layout.rootCertificatePath), certificateChain: \(layout.chainPath(cluster: "cluster2", name: "gateway")), privateKey: \(layout.keyPath(cluster: "cluster2", name: "gateway")) }
          listeners:
          - { name: east-west, role: gateway, address: "127.0.0.1:0" }
          admin: { address: "127.0.0.1:0" }
          mirror: { heartbeat: 1s }

        """
        try (gatewayYAML + export("webapp", port: backendPort)).write(toFile: dir + "/cluster2.yaml", atomically: true, encoding: .utf8)
        let gateway = try ProxyServer.start(try ConfigLoader.load(path: dir + "/cluster2.yaml"))
        defer { gateway.stop() }
        let gatewayAddress = gateway.boundListeners.first?.address ?? "?"

        // cluster1: the sidecar, linked to cluster2's gateway.
        try """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: cluster1-sidecar }
        spec:
          cluster: cluster1
          trustDomain: \(Self.trustDomain)
          namespace: production
          workers: 1
          tls: { trustBundle: \(layout.rootCertificatePath), certificateChain: \(layout.chainPath(cluster: "cluster1", name: "sidecar")), privateKey: \(layout.keyPath(cluster: "cluster1", name: "sidecar")) }
          listeners:
          - { name: outbound, role: sidecar, address: "127.0.0.1:\(sidecarPort)" }
          admin: { address: "127.0.0.1:\(adminPort)" }
          dns: { address: "127.0.0.1:0", virtualIPs: 240.240.0.0/16 }
        ---
        apiVersion: causeway.dev/v1alpha1
        kind: Link
        metadata: { name: cluster2 }
        spec:
          cluster: cluster2
          gateways: [ "\(gatewayAddress)" ]
          identity: \(Self.gatewayID)

        """.write(toFile: dir + "/cluster1.yaml", atomically: true, encoding: .utf8)
        let sidecar = try ProxyServer.start(try ConfigLoader.load(path: dir + "/cluster1.yaml"))
        defer { sidecar.stop() }
        let sidecarAddress = sidecar.boundListeners.first?.address ?? "?"
        let sidecarBoundPort = UInt16(sidecarAddress.split(separator: ":").last ?? "") ?? sidecarPort

        say("""
        Causeway demo: two clusters on loopback (certificates in \(dir)/certs)
          cluster2  backend   webapp.production       \(backend.address)  (built-in HTTP/2 responder, exported)
          cluster2  gateway   east-west, mTLS         \(gatewayAddress)  \(Self.gatewayID)
          cluster1  sidecar   outbound, h2c/HTTP/1.1  \(sidecarAddress)  \(Self.sidecarID)
          cluster1  dns       mesh names              \(sidecar.dnsAddress ?? "?")
          cluster1  admin                             \(sidecar.adminAddress)

        """)

        // The mirror: cluster1 was told nothing about cluster2's Services.
        let learned = waitForMirror(sidecar, containing: "webapp-cluster2.production")
        say("cluster1 mirrored from cluster2's export stream:")
        for entry in learned { say("  \(entry)") }
        say("")

        var failures = 0
        let client = try DemoClient(host: "127.0.0.1", port: sidecarBoundPort)
        // The sidecar's pod namespace is production, so the bare name resolves too.
        let targets = ["webapp-cluster2", "webapp.production.svc.clusterset.local", "webapp-cluster2.production.svc.cluster.local"]
        for i in 0..<requests {
            let authority = targets[i % targets.count]
            let started = DemoClient.now()
            let response = client.get(authority: authority, path: "/hello/\(i + 1)")
            let millis = Double(DemoClient.now() - started) / 1e6
            let route = "\(authority) → sidecar(cluster1) ⇒ mTLS ⇒ gateway(cluster2) → webapp.production"
            if let status = response.status, response.error == nil {
                let caller = response.text.split(separator: "\n").first { $0.hasPrefix("caller:") }.map(String.init) ?? ""
                say(String(format: "  GET /hello/%d  %@\n    %d in %.1f ms; backend saw %@", i + 1, route, status, millis, caller))
                if status != 200 { failures += 1 }
            } else {
                failures += 1
                say("  GET /hello/\(i + 1)  \(route)\n    failed: \(response.error ?? "no response") \(response.headers?.value(of: "x-causeway-reason") ?? "")")
            }
        }

        failures += pod(sidecar: sidecar, port: sidecarBoundPort, say: say)

        // cluster2 exports a second Service; cluster1's mirror follows.
        try (gatewayYAML + export("webapp", port: backendPort) + export("api", port: apiPort))
            .write(toFile: dir + "/cluster2.yaml", atomically: true, encoding: .utf8)
        _ = try gateway.reload(try ConfigLoader.load(path: dir + "/cluster2.yaml"))
        say("\ncluster2 now also exports api.production; cluster1's mirror:")
        for entry in waitForMirror(sidecar, containing: "api-cluster2.production") { say("  \(entry)") }
        let api = client.get(authority: "api-cluster2", path: "/hello")
        if api.status == 200 {
            say("  GET /hello  api-cluster2 → \(api.text.split(separator: "\n").first ?? "")")
        } else {
            failures += 1
            say("  GET /hello  api-cluster2 failed: \(api.error ?? "status \(api.status ?? 0)")")
        }

        say("""

        Try it:
          curl --http2-prior-knowledge -H 'host: webapp-cluster2' http://\(sidecarAddress)/
          curl -H 'host: webapp-cluster2.production.svc.cluster.local' http://\(sidecarAddress)/
          dig @127.0.0.1 -p \(sidecar.dnsAddress?.split(separator: ":").last ?? "?") webapp-cluster2.production.svc.cluster.local
          curl http://\(sidecar.adminAddress)/endpoints
          curl http://\(sidecar.adminAddress)/metrics
        """)
        if keepRunning {
            say("Running until Ctrl-C.")
            while ProcessSignals.next() != .stop {}
            say("stopping")
        }
        return failures
    }

    /// The pod: an HTTP/1.1 application calling the remote name, as it would in a
    /// captured pod. Returns 1 when its request failed.
    private func pod(sidecar: ProxyServer, port: UInt16, say: (String) -> Void) -> Int {
        let name = "webapp-cluster2.production.svc.cluster.local"
        say("\na pod's application (HTTP/1.1, no proxy settings) calls http://\(name)/hello:")
        let dnsPort = sidecar.dnsAddress.flatMap { $0.split(separator: ":").last.flatMap { UInt16($0) } } ?? 0
        let vip = DemoPod.resolve(name, dnsPort: dnsPort)
        say("  dns      \(name) → \(vip ?? "no answer") (the sidecar's DNS: a stable virtual IP per Service)")
        say("  capture  original destination \(vip ?? "?"):80 → the sidecar's listener 127.0.0.1:\(port) (in a pod `causeway capture --apply`")
        say("           redirects it and the sidecar reads SO_ORIGINAL_DST; on loopback the demo connects there itself)")
        let response = DemoPod.get(port: port, host: name, path: "/hello")
        guard response.error == nil, response.statusLine.hasPrefix("HTTP/1.1 200") else {
            say("  http     failed: \(response.error ?? response.statusLine) \(response.header("x-causeway-reason") ?? "")")
            return 1
        }
        let caller = response.body.split(separator: "\n").first { $0.hasPrefix("caller:") }.map(String.init) ?? ""
        say("  http     \(response.statusLine) from cluster \(response.header("x-causeway-upstream-cluster") ?? "?"):"
            + " HTTP/1.1 → sidecar(cluster1) ⇒ HTTP/2 over mTLS ⇒ gateway(cluster2) → webapp.production")
        say("           backend saw \(caller)")
        return 0
    }

    /// Waits (up to 10 s) until `server` routes to `service`; returns its table as lines.
    private func waitForMirror(_ server: ProxyServer, containing service: String) -> [String] {
        let deadline = DemoClient.now() + 10_000_000_000
        var table = server.routingTable()
        while !table.contains(where: { $0.service == service && $0.ready }) && DemoClient.now() < deadline {
            usleep(20_000)
            table = server.routingTable()
        }
        return table.map { "\($0.service)  \($0.table)\($0.ready ? "" : "  (not ready)")" }
    }
}
