import Foundation
import Glibc
import CausewayTLS

/// Three clusters on loopback, linked to each other, with no mirrored slice files anywhere:
/// every cluster runs one Causeway process with a sidecar and a gateway listener, Links to
/// the other two, and an nghttpd backend whose `/whoami` names the cluster. Mirrors come
/// from the export streams alone.
///
/// Each cluster's resources live in `clusterN/mesh/`, one file per Service, watched by its
/// proxy, so a test changes what a cluster exports by writing files. `@unchecked Sendable`: a test may read
/// through it from a traffic thread while it changes files (nothing here is mutated then).
final class MirrorMesh: @unchecked Sendable {
    static let clusters = ["cluster1", "cluster2", "cluster3"]
    static func gatewayID(_ cluster: String) -> String { "spiffe://mesh.local/ns/mesh-system/sa/\(cluster)-gateway" }

    struct Cluster {
        let name: String
        let backend: NghttpdBackend
        let sidecarPort: UInt16
        let gatewayPort: UInt16
        let adminPort: UInt16
        let configPath: String
        let meshDir: String
    }

    let dir: TempDir
    let layout: CertsLayout
    private(set) var clusters: [String: Cluster] = [:]
    private(set) var processes: [String: TestProcess] = [:]

    /// - Parameters:
    ///   - mirror: the Proxy's `spec.mirror` block (flow style).
    ///   - probe: each Link's `probe` block (flow style).
    ///   - services: per cluster, the Services it exports and their endpoint counts (each
    ///     endpoint a distinct 127.0.0.x address of the cluster's nghttpd).
    ///   - dns: clusters whose proxy also serves DNS (`spec.dns` on a free port, see
    ///     `dnsPort`; questions that are not about mesh names go nowhere useful).
    init(dir: TempDir, mirror: String = "{ heartbeat: 500ms }", probe: String = "{ period: 500ms, timeout: 300ms, failureThreshold: 2 }",
         services: [String: [String: Int]], dns: Set<String> = []) throws {
        self.dir = dir
        layout = CertsLayout(directory: dir.path("certs"))
        _ = try layout.createRoot(keyAlgorithm: .ecP256, validity: .days(3650, from: Date()), force: false)
        var ports: [String: (sidecar: UInt16, gateway: UInt16, admin: UInt16)] = [:]
        for name in Self.clusters {
            _ = try layout.createIntermediate(cluster: name, keyAlgorithm: .ecP256, validity: .days(1825, from: Date()), force: false)
            _ = try layout.issue(cluster: name, name: "gateway", spiffeID: SPIFFEID(parsing: Self.gatewayID(name)),
                                 alternativeNames: [.ip("127.0.0.1")], keyAlgorithm: .ecP256, validity: .days(30, from: Date()), force: false)
            ports[name] = (Ports.free(), Ports.free(), Ports.free())
        }
        for name in Self.clusters {
            let www = dir.path("\(name)/www")
            try FileManager.default.createDirectory(atPath: www, withIntermediateDirectories: true)
            try dir.write("\(name)/www/whoami", "\(name)\n")
            let backend = try NghttpdBackend(docroot: www)
            let p = ports[name]!
            var links = ""
            for other in Self.clusters where other != name {
                links += """
                ---
                apiVersion: causeway.dev/v1alpha1
                kind: Link
                metadata: { name: \(other) }
                spec:
                  cluster: \(other)
                  gateways: [ "127.0.0.1:\(ports[other]!.gateway)" ]
                  identity: \(Self.gatewayID(other))
                  probe: \(probe)

                """
            }
            try dir.write("\(name)/causeway.yaml", """
            apiVersion: causeway.dev/v1alpha1
            kind: Proxy
            metadata: { name: \(name)-proxy }
            spec:
              cluster: \(name)
              trustDomain: mesh.local
              namespace: production
              workers: 2
              tls: { trustBundle: "\(layout.rootCertificatePath)", certificateChain: "\(layout.chainPath(cluster: name, name: "gateway"))", privateKey: "\(layout.keyPath(cluster: name, name: "gateway"))" }
              listeners:
              - { name: outbound, role: sidecar, address: "127.0.0.1:\(p.sidecar)" }
              - { name: east-west, role: gateway, address: "127.0.0.1:\(p.gateway)" }
              admin: { address: "127.0.0.1:\(p.admin)" }
              mirror: \(mirror)
              resources: [ mesh/ ]
            \(dns.contains(name) ? "  dns: { address: \"127.0.0.1:0\", upstream: \"127.0.0.1:9\" }" : "")
            \(links)
            """)
            let cluster = Cluster(name: name, backend: backend, sidecarPort: p.sidecar, gatewayPort: p.gateway, adminPort: p.admin,
                                  configPath: dir.path("\(name)/causeway.yaml"), meshDir: dir.path("\(name)/mesh"))
            try FileManager.default.createDirectory(atPath: cluster.meshDir, withIntermediateDirectories: true)
            clusters[name] = cluster
            for (service, endpoints) in services[name] ?? [:] {
                try writeExport(name, service: service, readyEndpoints: endpoints)
            }
        }
        // Started together, then awaited: each links to the others anyway.
        for name in Self.clusters {
            let c = clusters[name]!
            processes[name] = try TestProcess(name, executable: try causewayBinary(), arguments: ["run", "--config", c.configPath])
        }
        for name in Self.clusters { try waitListening(name) }
    }

    /// Writes `clusterN/mesh/<service>.yaml`: a ServiceExport and a slice of `readyEndpoints`
    /// ready endpoints (plus `unready` ones), on the cluster's nghttpd.
    func writeExport(_ cluster: String, service: String, readyEndpoints: Int, unready: Int = 0, port: UInt16? = nil) throws {
        let c = clusters[cluster]!
        let list = (0..<(readyEndpoints + unready)).map { i in
            "  - { addresses: [ \"127.0.0.\(i + 1)\" ], conditions: { ready: \(i < readyEndpoints) } }"
        }.joined(separator: "\n")
        try write(cluster, "\(service).yaml", """
        apiVersion: multicluster.x-k8s.io/v1alpha1
        kind: ServiceExport
        metadata: { name: \(service), namespace: production }
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: \(service)-1, namespace: production, labels: { kubernetes.io/service-name: \(service) } }
        addressType: IPv4
        ports: [ { name: http, port: \(port ?? c.backend.port), protocol: TCP, appProtocol: kubernetes.io/h2c } ]
        endpoints:
        \(list.isEmpty ? "  []" : list)

        """)
    }

    /// Writes a file into a cluster's watched resource folder, atomically (rename).
    func write(_ cluster: String, _ file: String, _ text: String) throws {
        try dir.write("\(cluster)/mesh/\(file)", text)
    }

    /// Removes a file from a cluster's resource folder.
    func remove(_ cluster: String, _ file: String) throws {
        try FileManager.default.removeItem(atPath: dir.path("\(cluster)/mesh/\(file)"))
    }

    /// Starts (or restarts) a cluster's proxy and waits for its listeners.
    func start(_ name: String) throws {
        let c = clusters[name]!
        processes[name] = try TestProcess(name, executable: try causewayBinary(), arguments: ["run", "--config", c.configPath])
        try waitListening(name)
    }

    private func waitListening(_ name: String) throws {
        let c = clusters[name]!, process = processes[name]!
        for port in [c.sidecarPort, c.gatewayPort, c.adminPort] { try Ports.waitListening(port, process: process) }
    }

    /// The port of a cluster's DNS server (UDP and TCP on 127.0.0.1).
    func dnsPort(_ cluster: String) throws -> UInt16 {
        try DNSPort.announced(by: processes[cluster]!)
    }

    /// Stops a cluster's proxy (its gateway and export stream go away).
    func kill(_ name: String) {
        processes[name]?.stop()
    }

    func stop() {
        for (_, p) in processes { p.stop() }
        for (_, c) in clusters { c.backend.stop() }
        backendLock.withLock { for (_, b) in restartedBackends { b.stop() } }
    }

    /// Backends started again by `restartBackend`, by cluster (`clusters` is left as it was,
    /// so a traffic thread may keep reading it; the port is the same).
    private var restartedBackends: [String: NghttpdBackend] = [:]
    private let backendLock = NSLock()

    /// A cluster's nghttpd now: the first one, or the latest restarted one.
    func backend(_ cluster: String) -> NghttpdBackend {
        backendLock.withLock { restartedBackends[cluster] } ?? clusters[cluster]!.backend
    }

    /// Kills a cluster's nghttpd at once (SIGKILL, as a crash: its connections close, its port
    /// refuses connections), its slices unchanged: the proxy still counts the endpoint ready.
    func killBackend(_ cluster: String) {
        let process = backend(cluster).process
        guard process.process.isRunning else { return }
        Glibc.kill(process.pid, SIGKILL)
        try? process.waitForExit(timeout: 30)
    }

    /// Starts a cluster's nghttpd again on the same port (after `killBackend`) and waits until
    /// it listens.
    func restartBackend(_ cluster: String) throws {
        let old = backend(cluster)
        old.stop()
        let fresh = try NghttpdBackend(docroot: dir.path("\(cluster)/www"), port: old.port)
        backendLock.withLock { restartedBackends[cluster] = fresh }
    }

    /// GETs `path` from `cluster`'s sidecar with `host` as authority, `count` times on one
    /// connection (nghttp: curl 7.88 cannot reuse a prior-knowledge connection); returns the
    /// status of each and the bodies, concatenated.
    func get(from cluster: String, host: String, path: String = "/whoami", count: Int = 1) throws -> (codes: [Int], body: String) {
        let base = "http://127.0.0.1:\(clusters[cluster]!.sidecarPort)\(path)"
        // Distinct URIs: nghttp requests a repeated one only once.
        let urls = (0..<count).map { count == 1 ? base : "\(base)?\($0)" }
        let r = try runCommand("nghttp", ["-s", "-t", "30", "-H", ":authority: \(host)"] + urls)
        let parts = r.stdoutText.components(separatedBy: "***** Statistics *****")
        var codes: [Int] = []
        for line in (parts.count > 1 ? parts[1] : "").split(separator: "\n") {
            let columns = line.split(separator: " ")
            // "id responseEnd requestStart process code size path"
            if columns.count >= 7, Int(columns[0]) != nil, let code = Int(columns[4]) { codes.append(code) }
        }
        return (codes, parts[0])
    }

    /// Which cluster served each of `count` GETs of the clusterset (or any) name.
    func servedBy(from cluster: String, host: String, count: Int) throws -> [String: Int] {
        let r = try get(from: cluster, host: host, count: count)
        var tally: [String: Int] = [:]
        for line in r.body.split(separator: "\n") where line.hasPrefix("cluster") { tally[String(line), default: 0] += 1 }
        if r.codes.count != count { tally["missing", default: 0] += count - r.codes.count }
        for code in r.codes where code != 200 { tally["status \(code)", default: 0] += 1 }
        return tally
    }

    /// `/endpoints` of a cluster, parsed.
    func endpoints(_ cluster: String) throws -> [String: Any] {
        let r = try runCommand("curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(clusters[cluster]!.adminPort)/endpoints"])
        return (try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]) ?? [:]
    }

    /// The `/endpoints` entry of `service` (its description, e.g. `webapp-cluster2.production`).
    func entry(_ cluster: String, _ service: String) throws -> [String: Any]? {
        let services = try endpoints(cluster)["services"] as? [[String: Any]] ?? []
        return services.first { $0["service"] as? String == service }
    }

    /// The `/endpoints` link entry for `link` in `cluster`.
    func link(_ cluster: String, _ link: String) throws -> [String: Any]? {
        let links = try endpoints(cluster)["links"] as? [[String: Any]] ?? []
        return links.first { $0["cluster"] as? String == link }
    }

    /// Polls `condition` every 50 ms until it holds or `timeout` passes; returns the seconds
    /// it took, or nil.
    func waitFor(_ timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> TimeInterval? {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if try condition() { return Date().timeIntervalSince(start) }
            usleep(50_000)
        }
        return nil
    }

    func log(_ cluster: String) -> String { processes[cluster]?.log ?? "" }
    var logs: String { Self.clusters.map { "== \($0)\n" + log($0) }.joined(separator: "\n") }
}
