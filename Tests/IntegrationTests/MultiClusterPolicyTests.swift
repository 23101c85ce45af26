import Foundation
import Glibc
import XCTest

/// Traffic policy across the three loopback clusters of `MirrorMesh`: failover of a
/// clusterset name when the local backend dies (with and without outlierDetection),
/// authorization at the gateway, the response header naming the serving cluster, and an
/// HTTPRoute splitting between a local Service and a mirrored one.
final class MultiClusterPolicyTests: XCTestCase {
    var dir: TempDir!
    var mesh: MirrorMesh!

    override func tearDown() { mesh?.stop() }

    static let clusterset = "webapp.production.svc.clusterset.local"

    /// Starts the mesh and waits until cluster1 has mirrored `webapp` from every other
    /// cluster in `services` and, when cluster1 exports it too, sees it in the clusterset.
    private func start(_ services: [String: [String: Int]], cluster1Unready: Int = 0) throws {
        dir = try TempDir()
        mesh = try MirrorMesh(dir: dir, services: services)
        if cluster1Unready > 0 {
            try mesh.writeExport("cluster1", service: "webapp", readyEndpoints: services["cluster1"]?["webapp"] ?? 0, unready: cluster1Unready)
        }
        let remote = services.filter { $0.key != "cluster1" && $0.value["webapp"] != nil }.keys.sorted()
        let members = services.filter { $0.value["webapp"] != nil }.count
        let synced = try mesh.waitFor(10) {
            for cluster in remote where try mesh.entry("cluster1", "webapp-\(cluster).production")?["ready"] as? Bool != true { return false }
            if cluster1Unready > 0, try mesh.entry("cluster1", "webapp.production")?["totalEndpoints"] as? Int != (services["cluster1"]?["webapp"] ?? 0) + cluster1Unready {
                return false
            }
            let set = try mesh.entry("cluster1", Self.clusterset)?["members"] as? [[String: Any]] ?? []
            return set.count == members
        }
        XCTAssertNotNil(synced, "cluster1 never mirrored webapp from \(remote)\n" + mesh.logs)
    }

    /// Writes a policy file into a cluster and waits until `/config` lists a policy `name`
    /// under `kind` (`routes`, `destinationRules`, `authorizationPolicies`).
    private func apply(_ cluster: String, _ file: String, kind: String, name: String, _ yaml: String) throws {
        try mesh.write(cluster, file, yaml)
        let loaded = try mesh.waitFor(5) {
            let r = try runCommand("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(mesh.clusters[cluster]!.adminPort)/config"])
            let config = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any] ?? [:]
            let list = config[kind] as? [[String: Any]] ?? []
            return list.contains { $0["name"] as? String == name }
        }
        XCTAssertNotNil(loaded, "\(cluster) never loaded \(kind) \(name)\n" + mesh.log(cluster))
    }

    private func metrics(_ cluster: String) throws -> String {
        try runCommand("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(mesh.clusters[cluster]!.adminPort)/metrics"]).stdoutText
    }

    /// The sum of a metric's samples whose line starts with `prefix` (name and labels).
    private func sample(_ text: String, _ prefix: String) -> Double {
        text.split(separator: "\n").filter { $0.hasPrefix(prefix) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }

    // MARK: 1, 2: failover of a clusterset name

    // The traffic loops send 10 requests at a time: every request waiting on the dead
    // endpoint's connection fails at once, and each is replayed to the other cluster outside
    // the retry budget (a connection that could not be made never reached the upstream).

    // The rule is for `webapp`, the local member (a rule for the clusterset name would apply
    // to its members too).
    func testClustersetFailsOverWithOutlierDetectionAndReturnsAfterTheEjectionTime() throws {
        try start(["cluster1": ["webapp": 1], "cluster2": ["webapp": 1]])
        try apply("cluster1", "dr-webapp.yaml", kind: "destinationRules", name: "webapp", """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: webapp, namespace: production }
        spec:
          host: webapp
          trafficPolicy:
            outlierDetection: { consecutiveLocalOriginFailures: 2, consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 100 }

        """)
        let port = mesh.clusters["cluster1"]!.sidecarPort
        let first = try Exchange.tally(Exchange.run(port: port, host: Self.clusterset, count: 40))
        XCTAssertEqual(first.bodies, ["cluster1": 40], "\(first)")
        XCTAssertEqual(first.headers, ["cluster1": 40], "\(first)")

        let traffic = TrafficLoop(port: port, host: Self.clusterset, batch: 10)
        usleep(300_000)
        let killedAt = Date()
        mesh.killBackend("cluster1")
        let moved = traffic.waitForBatch(timeout: 5) { $0.bodies == ["cluster2": $0.total] }
        // Back on its port 0.8 s after the kill, well within the 2 s ejection.
        let wait = 0.8 - Date().timeIntervalSince(killedAt)
        if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
        let restartedAt = Date()
        try mesh.restartBackend("cluster1")
        let back = traffic.waitForBatch(timeout: 8) { $0.bodies == ["cluster1": $0.total] }
        let all = traffic.stop()
        let outage = all.filter { $0.end > killedAt && $0.start < restartedAt }.reduce(Tally()) { $0.merged($1.tally) }
        // Restarted but still ejected: the ejection began after the kill and lasts 2 s.
        let ejected = all.filter { $0.start > restartedAt && $0.end < killedAt.addingTimeInterval(1.9) }.reduce(Tally()) { $0.merged($1.tally) }
        let total = all.reduce(Tally()) { $0.merged($1.tally) }
        print("failover with outlierDetection: \(all.count) batches, \(total); during the outage \(outage); "
              + "restarted but ejected \(ejected); moved after \(moved.map { $0.timeIntervalSince(killedAt) } ?? -1) s; "
              + "restarted \(restartedAt.timeIntervalSince(killedAt)) s after the kill, back \(back.map { $0.timeIntervalSince(restartedAt) } ?? -1) s after the restart")

        XCTAssertEqual(total.failures, [:], "failed requests: \(total)\n" + mesh.log("cluster1"))
        XCTAssertEqual(total.mismatched, 0, "header and body disagree: \(total)")
        XCTAssertNotNil(moved, "traffic never moved to cluster2: \(total)")
        XCTAssertGreaterThan(outage.bodies["cluster2", default: 0], 0, "\(outage)")
        XCTAssertEqual(outage.headers["cluster2", default: 0], outage.bodies["cluster2", default: 0], "\(outage)")
        XCTAssertNotNil(back, "traffic never returned to cluster1 after the restart: \(total)\n" + mesh.log("cluster1"))
        // baseEjectionTime 2 s, ejections end on the worker's 1 s sweep.
        XCTAssertGreaterThan(ejected.total, 0)
        XCTAssertEqual(ejected.bodies.keys.sorted(), ["cluster2"], "cluster1 served while its endpoint was ejected: \(ejected)")
        XCTAssertGreaterThanOrEqual(back.map { $0.timeIntervalSince(killedAt) } ?? 0, 2.0)
        XCTAssertLessThanOrEqual(back.map { $0.timeIntervalSince(restartedAt) } ?? 99, 3.5)
        XCTAssertGreaterThanOrEqual(sample(try metrics("cluster1"), "causeway_outlier_ejections_total"), 1)
        let after = try Exchange.tally(Exchange.run(port: port, host: Self.clusterset, count: 40))
        XCTAssertEqual(after.bodies, ["cluster1": 40], "\(after)")
        XCTAssertEqual(after.headers, ["cluster1": 40], "\(after)")
    }

    func testClustersetFailsOverWithoutDestinationRule() throws {
        try start(["cluster1": ["webapp": 1], "cluster2": ["webapp": 1]])
        let port = mesh.clusters["cluster1"]!.sidecarPort
        XCTAssertEqual(try Exchange.tally(Exchange.run(port: port, host: Self.clusterset, count: 40)).bodies, ["cluster1": 40])
        let traffic = TrafficLoop(port: port, host: Self.clusterset, batch: 10)
        usleep(300_000)
        let killedAt = Date()
        mesh.killBackend("cluster1")
        let moved = traffic.waitForBatch(timeout: 5) { $0.bodies == ["cluster2": $0.total] }
        usleep(500_000)
        // Back on its port: the passive check's ejection (30 s) keeps the traffic on cluster2.
        let restartedAt = Date()
        try mesh.restartBackend("cluster1")
        usleep(2_500_000)
        let all = traffic.stop()
        let total = all.reduce(Tally()) { $0.merged($1.tally) }
        let afterRestart = all.filter { $0.start > restartedAt }.reduce(Tally()) { $0.merged($1.tally) }
        print("failover without a DestinationRule: \(all.count) batches, \(total); moved after \(moved.map { $0.timeIntervalSince(killedAt) } ?? -1) s; "
              + "in the 2.5 s after the restart \(afterRestart)")
        XCTAssertEqual(total.failures, [:], "failed requests: \(total)\n" + mesh.log("cluster1"))
        XCTAssertEqual(total.mismatched, 0, "header and body disagree: \(total)")
        XCTAssertNotNil(moved, "traffic never moved to cluster2: \(total)")
        XCTAssertGreaterThan(total.bodies["cluster2", default: 0], 0, "\(total)")
        XCTAssertGreaterThanOrEqual(sample(try metrics("cluster1"), "causeway_outlier_ejections_total"), 1)
        XCTAssertEqual(afterRestart.bodies.keys.sorted(), ["cluster2"], "the passive ejection lasts 30 s: \(afterRestart)")
    }

    // MARK: 3: authorization at the gateway

    func testGatewayAuthorizationAllowsByPrincipalAndDeniesByPath() throws {
        try start(["cluster2": ["webapp": 1]])
        // cluster3 mirrors it too.
        XCTAssertNotNil(try mesh.waitFor(5) { try mesh.entry("cluster3", "webapp-cluster2.production")?["ready"] as? Bool == true }, mesh.logs)
        try dir.write("cluster2/www/secret", "cluster2 secret\n")
        try apply("cluster2", "authz-webapp.yaml", kind: "authorizationPolicies", name: "webapp-callers", """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: { name: webapp-callers, namespace: production }
        spec:
          targetRefs: [ { kind: Service, group: "", name: webapp } ]
          action: ALLOW
          rules:
          - from: [ { source: { principals: [ "mesh.local/ns/mesh-system/sa/cluster1-gateway" ] } } ]

        """)
        let installed = try mesh.waitFor(5) { try Exchange.run(port: mesh.clusters["cluster3"]!.sidecarPort, host: "webapp-cluster2").first?.status == 403 }
        XCTAssertNotNil(installed, mesh.log("cluster2"))
        let allowed = try Exchange.run(port: mesh.clusters["cluster1"]!.sidecarPort, host: "webapp-cluster2", count: 5)
        XCTAssertEqual(allowed.map(\.status), Array(repeating: 200, count: 5))
        XCTAssertEqual(Set(allowed.map(\.body)), ["cluster2\n"])
        let denied = try Exchange.run(port: mesh.clusters["cluster3"]!.sidecarPort, host: "webapp-cluster2", count: 5)
        XCTAssertEqual(denied.map(\.status), Array(repeating: 403, count: 5), "\(denied)")
        XCTAssertEqual(Set(denied.map { $0.headers["x-causeway-reason"] }), ["denied"], "\(denied)")
        XCTAssertFalse(denied.contains { $0.body.contains("cluster2") }, "\(denied)")
        let deniedText = try metrics("cluster2")
        XCTAssertGreaterThanOrEqual(sample(deniedText, #"causeway_authz_denied_total{cluster="cluster2",policy="production/webapp-callers"}"#), 5, deniedText)

        // A DENY for one path (any caller): that path only, with or without a query.
        try apply("cluster2", "authz-secret.yaml", kind: "authorizationPolicies", name: "no-secret", """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: { name: no-secret, namespace: production }
        spec:
          targetRefs: [ { kind: Service, name: webapp } ]
          action: DENY
          rules:
          - to: [ { operation: { paths: [ "/secret" ] } } ]

        """)
        let c1 = mesh.clusters["cluster1"]!.sidecarPort
        XCTAssertNotNil(try mesh.waitFor(5) { try Exchange.run(port: c1, host: "webapp-cluster2", path: "/secret").first?.status == 403 }, mesh.log("cluster2"))
        let whoami = try Exchange.run(port: c1, host: "webapp-cluster2", count: 3)
        XCTAssertEqual(whoami.map(\.status), [200, 200, 200], "\(whoami)")
        // count 3: /secret?0, /secret?1, /secret?2 (the path is matched without its query).
        let secret = try Exchange.run(port: c1, host: "webapp-cluster2", path: "/secret", count: 3)
        XCTAssertEqual(secret.map(\.status), [403, 403, 403], "\(secret)")
        XCTAssertEqual(Set(secret.map { $0.headers["x-causeway-reason"] }), ["denied"], "\(secret)")
        // cluster3 is still refused everything by the ALLOW policy.
        XCTAssertEqual(try Exchange.run(port: mesh.clusters["cluster3"]!.sidecarPort, host: "webapp-cluster2", count: 2).map(\.status), [403, 403])
        let text = try metrics("cluster2")
        XCTAssertGreaterThanOrEqual(sample(text, #"causeway_authz_denied_total{cluster="cluster2",policy="production/no-secret"}"#), 3, text)
        // Without the DENY, the path is served to cluster1 again.
        try mesh.remove("cluster2", "authz-secret.yaml")
        let open = try mesh.waitFor(5) { try Exchange.run(port: c1, host: "webapp-cluster2", path: "/secret").first?.status == 200 }
        XCTAssertNotNil(open, mesh.log("cluster2"))
    }

    // MARK: 4: provenance

    func testEveryResponseNamesTheClusterThatServedIt() throws {
        // cluster1: 1 of 2 endpoints ready, so its clusterset share is 70% (overprovisioning 1.4).
        try start(["cluster1": ["webapp": 1], "cluster2": ["webapp": 1]], cluster1Unready: 1)
        let port = mesh.clusters["cluster1"]!.sidecarPort
        for (host, cluster) in [("webapp", "cluster1"), ("webapp-cluster2", "cluster2"), ("webapp-cluster2.production.svc.cluster.local", "cluster2")] {
            let tally = try Exchange.tally(Exchange.run(port: port, host: host, count: 20))
            XCTAssertEqual(tally.bodies, [cluster: 20], "\(host): \(tally)")
            XCTAssertEqual(tally.headers, [cluster: 20], "\(host): \(tally)")
        }
        let exchanges = try Exchange.run(port: port, host: Self.clusterset, count: 400)
        let tally = Exchange.tally(exchanges)
        print("clusterset through cluster1 (1 of 2 local endpoints ready): \(tally)")
        XCTAssertEqual(tally.total, 400)
        XCTAssertEqual(tally.mismatched, 0, "a header names another cluster than the body: \(exchanges.filter { !$0.consistent })")
        XCTAssertEqual(tally.failures, [:], "\(tally)")
        XCTAssertEqual(tally.headers, tally.bodies, "\(tally)")
        XCTAssertEqual(Double(tally.headers["cluster1", default: 0]) / 400, 0.7, accuracy: 0.1, "\(tally)")
    }

    func testUpstreamClusterHeaderCanBeTurnedOff() throws {
        dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("www"), withIntermediateDirectories: true)
        try dir.write("www/whoami", "backend\n")
        let backend = try NghttpdBackend(docroot: dir.path("www"))
        defer { backend.stop() }
        let on = try CausewaySidecar(dir: dir, services: ["backend": [TestEndpoint(port: backend.port)]])
        let withHeader = try Exchange.run(port: on.port, host: "backend", count: 2)
        on.stop()
        let offDir = try TempDir()
        let off = try CausewaySidecar(dir: offDir, services: ["backend": [TestEndpoint(port: backend.port)]], extraProxySpec: "  upstreamClusterHeader: false")
        defer { off.stop() }
        let without = try Exchange.run(port: off.port, host: "backend", count: 2)
        XCTAssertEqual(withHeader.map(\.status), [200, 200])
        XCTAssertEqual(withHeader.map { $0.headers["x-causeway-upstream-cluster"] }, ["test-cluster", "test-cluster"])
        XCTAssertEqual(without.map(\.status), [200, 200])
        XCTAssertEqual(without.map(\.body), ["backend\n", "backend\n"])
        XCTAssertEqual(without.map { $0.headers["x-causeway-upstream-cluster"] }, [nil, nil])
    }

    // MARK: 5: HTTPRoute splitting between a local and a mirrored Service

    func testRouteSplitsBetweenLocalAndMirroredService() throws {
        try start(["cluster1": ["webapp": 1], "cluster2": ["webapp": 1]])
        try apply("cluster1", "route-webapp.yaml", kind: "routes", name: "webapp-split", """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: { name: webapp-split, namespace: production }
        spec:
          parentRefs: [ { group: "", kind: Service, name: webapp } ]
          rules:
          - backendRefs:
            - { name: webapp, weight: 50 }
            - { name: webapp-cluster2, weight: 50 }

        """)
        let port = mesh.clusters["cluster1"]!.sidecarPort
        let installed = try mesh.waitFor(5) { try Exchange.tally(Exchange.run(port: port, host: "webapp", count: 4)).bodies["cluster2"] != nil }
        XCTAssertNotNil(installed, mesh.log("cluster1"))
        let tally = Exchange.tally(try Exchange.run(port: port, host: "webapp", count: 400))
        print("50/50 route over 400 requests: \(tally)")
        XCTAssertEqual(tally.total, 400, "\(tally)")
        XCTAssertEqual(tally.failures, [:], "\(tally)")
        XCTAssertEqual(tally.mismatched, 0, "\(tally)")
        for cluster in ["cluster1", "cluster2"] {
            XCTAssertEqual(Double(tally.bodies[cluster, default: 0]) / 400, 0.5, accuracy: 0.1, "\(tally)")
            XCTAssertEqual(Double(tally.headers[cluster, default: 0]) / 400, 0.5, accuracy: 0.1, "\(tally)")
        }
    }
}

/// One request/response of an `nghttp -v` run: status, response headers, body.
struct Exchange: CustomStringConvertible {
    var stream: Int
    var status: Int?
    var headers: [String: String] = [:]
    var body = ""

    /// The cluster named by the body (`/whoami`), if it is one.
    var bodyCluster: String? {
        let line = body.trimmingCharacters(in: .whitespacesAndNewlines)
        return line.hasPrefix("cluster") && !line.contains(" ") ? line : nil
    }

    /// True unless the header names another cluster than the body.
    var consistent: Bool { status != 200 || bodyCluster == nil || bodyCluster == headers["x-causeway-upstream-cluster"] }

    var description: String {
        "#\(stream) \(status.map(String.init) ?? "no response") \(headers["x-causeway-upstream-cluster"] ?? "-") "
            + "\(headers["x-causeway-reason"].map { "reason=\($0) " } ?? "")\(body.debugDescription)"
    }

    /// GETs `path` `count` times on one connection to a sidecar with `host` as authority
    /// (distinct queries: nghttp asks a repeated URI once); one entry per request, in order.
    static func run(port: UInt16, host: String, path: String = "/whoami", count: Int = 1) throws -> [Exchange] {
        let base = "http://127.0.0.1:\(port)\(path)"
        let urls = (0..<count).map { count == 1 ? base : "\(base)?\($0)" }
        let r = try runCommand("nghttp", ["-v", "-t", "30", "-H", ":authority: \(host)"] + urls)
        return parse(r.stdoutText, count: count)
    }

    /// Reads `nghttp -v` output: `recv (stream_id=N) name: value` lines are response headers;
    /// a body is printed just before the `recv DATA frame <..., stream_id=N>` line it came in
    /// (on that line when it has no final newline). Requests are streams 13, 15, ...
    static func parse(_ output: String, count: Int) -> [Exchange] {
        var byStream: [Int: Exchange] = [:]
        var pending = ""
        let text = output.components(separatedBy: "***** Statistics *****")[0]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if let range = line.range(of: #"\[ *[0-9.]+\] recv DATA frame <length=\d+, flags=0x[0-9a-f]+, stream_id=(\d+)>"#, options: .regularExpression) {
                pending += line[..<range.lowerBound]
                let frame = String(line[range])
                if let id = frame.split(separator: "=").last.flatMap({ Int($0.dropLast()) }) {
                    byStream[id, default: Exchange(stream: id)].body += pending
                }
                pending = ""
            } else if let range = line.range(of: #"^\[ *[0-9.]+\] recv \(stream_id=\d+\) "#, options: .regularExpression) {
                let prefix = line[range]
                let id = Int(prefix.split(separator: "=")[1].prefix { $0.isNumber })!
                let header = line[range.upperBound...]
                // Pseudo-headers start with ':' — split after the name.
                let colon = header.dropFirst().firstIndex(of: ":")!
                let name = String(header[..<colon]).lowercased()
                let value = String(header[header.index(colon, offsetBy: 2)...])
                var exchange = byStream[id, default: Exchange(stream: id)]
                if name == ":status" { exchange.status = Int(value) } else { exchange.headers[name] = value }
                byStream[id] = exchange
            } else if !line.hasPrefix("[") && !line.hasPrefix(" ") && !line.isEmpty {
                pending += line + "\n"
            }
        }
        return (0..<count).map { byStream[13 + 2 * $0] ?? Exchange(stream: 13 + 2 * $0) }
    }

    static func tally(_ exchanges: [Exchange]) -> Tally {
        var t = Tally()
        for e in exchanges { t.add(e) }
        return t
    }
}

/// Who served a set of requests, by body and by header, and what failed.
struct Tally: CustomStringConvertible, Equatable {
    var total = 0
    var bodies: [String: Int] = [:]
    var headers: [String: Int] = [:]
    /// "status 503 reason", "no response": requests that did not get a 200 from a cluster.
    var failures: [String: Int] = [:]
    var mismatched = 0

    mutating func add(_ e: Exchange) {
        total += 1
        guard e.status == 200, let cluster = e.bodyCluster else {
            let key = e.status.map { "status \($0) \(e.headers["x-causeway-reason"] ?? "")" } ?? "no response"
            failures[key, default: 0] += 1
            return
        }
        bodies[cluster, default: 0] += 1
        headers[e.headers["x-causeway-upstream-cluster"] ?? "none", default: 0] += 1
        if !e.consistent { mismatched += 1 }
    }

    func merged(_ other: Tally) -> Tally {
        Tally(total: total + other.total, bodies: bodies.merging(other.bodies, uniquingKeysWith: +),
              headers: headers.merging(other.headers, uniquingKeysWith: +),
              failures: failures.merging(other.failures, uniquingKeysWith: +), mismatched: mismatched + other.mismatched)
    }

    var description: String {
        "\(total) requests, bodies \(bodies.sorted { $0.key < $1.key }), headers \(headers.sorted { $0.key < $1.key })"
            + (failures.isEmpty ? "" : ", failures \(failures)") + (mismatched > 0 ? ", \(mismatched) mismatched" : "")
    }
}

/// Batches of GETs, one nghttp connection each, back to back on a thread of their own while
/// the test changes the mesh. Reads nothing of the mesh.
private final class TrafficLoop: @unchecked Sendable {
    struct Batch {
        let start: Date
        let end: Date
        let tally: Tally
    }

    private let lock = NSLock()
    private var batches: [Batch] = []
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)

    init(port: UInt16, host: String, batch: Int) {
        let thread = Thread { [self] in
            while !lock.withLock({ stopping }) {
                let start = Date()
                let tally: Tally
                do {
                    tally = Exchange.tally(try Exchange.run(port: port, host: host, count: batch))
                } catch {
                    tally = Tally(total: batch, failures: ["\(error)": batch])
                }
                lock.withLock { batches.append(Batch(start: start, end: Date(), tally: tally)) }
            }
            done.signal()
        }
        thread.start()
    }

    /// Waits until a batch that started after this call satisfies `condition`; returns when
    /// that batch ended, or nil after `timeout`.
    func waitForBatch(timeout: TimeInterval, _ condition: (Tally) -> Bool) -> Date? {
        let since = Date()
        let deadline = since.addingTimeInterval(timeout)
        while Date() < deadline {
            if let hit = lock.withLock({ batches.first { $0.start >= since && condition($0.tally) } }) { return hit.end }
            usleep(20_000)
        }
        return nil
    }

    /// Stops after the current batch; every batch.
    func stop() -> [Batch] {
        lock.withLock { stopping = true }
        done.wait()
        return lock.withLock { batches }
    }
}
