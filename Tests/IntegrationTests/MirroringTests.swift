import CausewayTLS
import Foundation
import Glibc
import XCTest

/// Mirrors kept by the export streams alone, across three clusters on loopback.
final class MirroringTests: XCTestCase {
    var dir: TempDir!
    var mesh: MirrorMesh!

    override func tearDown() { mesh?.stop() }

    private func start(mirror: String = "{ heartbeat: 500ms }") throws {
        dir = try TempDir()
        mesh = try MirrorMesh(dir: dir, mirror: mirror, services: [
            "cluster2": ["webapp": 3],
            "cluster3": ["webapp": 1],
        ])
        // Both mirrors synced: cluster1 learned webapp from both clusters.
        let synced = try mesh.waitFor(10) {
            try mesh.entry("cluster1", "webapp-cluster2.production")?["ready"] as? Bool == true
                && mesh.entry("cluster1", "webapp-cluster3.production")?["ready"] as? Bool == true
        }
        XCTAssertNotNil(synced, "cluster1 never mirrored both clusters\n" + mesh.logs)
    }

    func testStreamAloneMirrorsNamesAndClustersetSplitsByCapacity() throws {
        try start()
        XCTAssertEqual(try mesh.get(from: "cluster1", host: "webapp-cluster2").body, "cluster2\n")
        XCTAssertEqual(try mesh.get(from: "cluster1", host: "webapp-cluster3.production.svc.cluster.local").body, "cluster3\n")
        // cluster1 has no webapp of its own: the clusterset name spreads by ready endpoints, 3:1.
        let tally = try mesh.servedBy(from: "cluster1", host: "webapp.production.svc.clusterset.local", count: 400)
        XCTAssertEqual(tally["cluster2", default: 0] + tally["cluster3", default: 0], 400, "\(tally)")
        XCTAssertEqual(Double(tally["cluster2", default: 0]) / 400, 0.75, accuracy: 0.05, "\(tally)")
        // cluster2 sees its own export locally and cluster3's by stream.
        let members = try mesh.entry("cluster2", "webapp.production.svc.clusterset.local")?["members"] as? [[String: Any]] ?? []
        XCTAssertEqual(members.map { $0["cluster"] as? String }, ["cluster2", "cluster1", "cluster3"].filter { $0 != "cluster1" })
        XCTAssertEqual(try mesh.servedBy(from: "cluster2", host: "webapp.production.svc.clusterset.local", count: 20), ["cluster2": 20])
        let link = try mesh.link("cluster1", "cluster2")
        XCTAssertEqual(link?["stream"] as? String, "live")
        XCTAssertEqual(link?["up"] as? Bool, true)
        let entry = try mesh.entry("cluster1", "webapp-cluster2.production")
        XCTAssertEqual(entry?["table"] as? String, "mirrored-by-stream")
        XCTAssertEqual(entry?["exportedReadyEndpoints"] as? Int, 3)
        // Pod addresses never leave a cluster: the mirror's endpoints are the gateway.
        XCTAssertEqual(entry?["readyEndpoints"] as? [String], ["127.0.0.1:\(mesh.clusters["cluster2"]!.gatewayPort)"])
        let metrics = try runCommand("curl", ["-sS", "http://127.0.0.1:\(mesh.clusters["cluster1"]!.adminPort)/metrics"]).stdoutText
        XCTAssertTrue(metrics.contains(#"causeway_link_up{cluster="cluster1",link="cluster2"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"causeway_mirror_services{cluster="cluster1",link="cluster2",state="ready"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"causeway_mirror_version{cluster="cluster1",link="cluster2"} 1"#), metrics)
        XCTAssertTrue(metrics.contains("# TYPE causeway_link_probe_duration_seconds histogram"), metrics)
        XCTAssertTrue(metrics.contains(#"causeway_link_probe_duration_seconds_bucket{cluster="cluster1",link="cluster3",le="+Inf"}"#), metrics)
        let exports = try runCommand("curl", ["-sS", "http://127.0.0.1:\(mesh.clusters["cluster2"]!.adminPort)/metrics"]).stdoutText
        XCTAssertTrue(exports.contains(#"causeway_export_subscribers_active{cluster="cluster2"} 2"#), exports)
    }

    func testExportChangesReachTheMirror() throws {
        try start()
        // Added.
        try mesh.writeExport("cluster2", service: "api", readyEndpoints: 1)
        let added = try mesh.waitFor(5) { try mesh.get(from: "cluster1", host: "api-cluster2").codes == [200] }
        XCTAssertNotNil(added, mesh.logs)
        XCTAssertLessThanOrEqual(added ?? 99, 1.0, "an added export took \(added ?? -1) s to reach cluster1")
        // Changed: no ready endpoint left → the mirror is not ready, requests fail fast.
        try mesh.writeExport("cluster2", service: "api", readyEndpoints: 0, unready: 1)
        let unready = try mesh.waitFor(5) { try mesh.entry("cluster1", "api-cluster2.production")?["ready"] as? Bool == false }
        XCTAssertNotNil(unready, mesh.logs)
        XCTAssertEqual(try mesh.get(from: "cluster1", host: "api-cluster2").codes, [503])
        // Removed.
        try mesh.remove("cluster2", "api.yaml")
        let removed = try mesh.waitFor(5) { try mesh.entry("cluster1", "api-cluster2.production") == nil }
        XCTAssertNotNil(removed, mesh.logs)
        XCTAssertEqual(try mesh.get(from: "cluster1", host: "api-cluster2").codes, [404])
    }

    func testUnreadyClusterLosesItsClustersetShareWithoutFailures() throws {
        try start()
        // Requests keep flowing while cluster2's webapp loses every ready endpoint.
        let traffic = BackgroundTally(mesh: mesh, from: "cluster1", host: "webapp.production.svc.clusterset.local", rounds: 10)
        usleep(200_000)
        try mesh.writeExport("cluster2", service: "webapp", readyEndpoints: 0, unready: 3)
        let during = traffic.wait()
        XCTAssertEqual(during.keys.filter { !$0.hasPrefix("cluster") }, [], "failed requests during the change: \(during)")
        let moved = try mesh.waitFor(5) { try mesh.entry("cluster1", "webapp-cluster2.production")?["ready"] as? Bool == false }
        XCTAssertNotNil(moved, mesh.logs)
        XCTAssertEqual(try mesh.servedBy(from: "cluster1", host: "webapp.production.svc.clusterset.local", count: 40), ["cluster3": 40])
    }

    func testLostGatewayIsMarkedDownThenStaleThenRemovedAndReturns() throws {
        try start(mirror: "{ heartbeat: 500ms, staleAfter: 2s, removeAfter: 4s }")
        mesh.kill("cluster2")
        // Probes: every 500 ms, down after 2 failures.
        let down = try mesh.waitFor(5) { try mesh.link("cluster1", "cluster2")?["up"] as? Bool == false }
        XCTAssertNotNil(down, mesh.logs)
        XCTAssertEqual(try mesh.servedBy(from: "cluster1", host: "webapp.production.svc.clusterset.local", count: 20), ["cluster3": 20])
        let stale = try mesh.waitFor(5) { try mesh.entry("cluster1", "webapp-cluster2.production")?["stale"] as? Bool == true }
        XCTAssertNotNil(stale, mesh.logs)
        XCTAssertEqual(try mesh.link("cluster1", "cluster2")?["lease"] as? String, "stale")
        let removed = try mesh.waitFor(5) { try mesh.entry("cluster1", "webapp-cluster2.production") == nil }
        XCTAssertNotNil(removed, mesh.logs)
        XCTAssertEqual(try mesh.link("cluster1", "cluster2")?["lease"] as? String, "expired")
        // Back: the subscription reconnects and resynchronises from a fresh snapshot.
        try mesh.start("cluster2")
        let back = try mesh.waitFor(10) { try mesh.entry("cluster1", "webapp-cluster2.production")?["ready"] as? Bool == true }
        XCTAssertNotNil(back, mesh.logs)
        XCTAssertGreaterThanOrEqual(try mesh.link("cluster1", "cluster2")?["resyncs"] as? Int ?? 0, 1)
        XCTAssertEqual(try mesh.get(from: "cluster1", host: "webapp-cluster2").body, "cluster2\n")
    }

    func testAChangedLinkReplacesItsSubscriptionWithoutLeavingTheOldOne() throws {
        try start()
        let gw2 = mesh.clusters["cluster2"]!.gatewayPort
        let subscribers = { () throws -> String in
            let metrics = try runCommand("curl", ["-sS", "http://127.0.0.1:\(self.mesh.clusters["cluster2"]!.adminPort)/metrics"]).stdoutText
            return metrics.split(separator: "\n").first { $0.hasPrefix(#"causeway_export_subscribers_active{cluster="cluster2"}"#) }
                .map { String($0.split(separator: " ").last ?? "") } ?? ""
        }
        XCTAssertEqual(try subscribers(), "2")
        // cluster1's Link to cluster2 gains a gateway address (nothing listens there): the
        // subscription is replaced, and the old one must not keep its stream.
        let config = mesh.clusters["cluster1"]!.configPath
        let text = try String(contentsOfFile: config, encoding: .utf8)
        let changed = text.replacingOccurrences(of: "gateways: [ \"127.0.0.1:\(gw2)\" ]",
                                                with: "gateways: [ \"127.0.0.1:\(gw2)\", \"127.0.0.2:\(gw2)\" ]")
        XCTAssertNotEqual(changed, text)
        try changed.write(toFile: config + ".tmp", atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(config + ".tmp", config), 0)
        let reloaded = try mesh.waitFor(5) {
            (try mesh.link("cluster1", "cluster2")?["gateways"] as? Int) == 2
        }
        XCTAssertNotNil(reloaded, mesh.logs)
        // The new subscription reaches the live address (after at most one refused attempt)
        // and resynchronises; cluster2 then serves exactly one stream per linked cluster.
        let settled = try mesh.waitFor(10) {
            try subscribers() == "2" && (mesh.link("cluster1", "cluster2")?["resyncs"] as? Int ?? 0) >= 1
                && mesh.link("cluster1", "cluster2")?["stream"] as? String == "live"
        }
        let count = (try? subscribers()) ?? "?"
        XCTAssertNotNil(settled, "subscribers \(count)\n" + mesh.logs)
        usleep(1_500_000)
        XCTAssertEqual(try subscribers(), "2", "an old subscription kept its stream")
        XCTAssertEqual(try mesh.get(from: "cluster1", host: "webapp-cluster2").body, "cluster2\n")
    }

    /// A peer of the mesh that opens 100 export streams and never reads them (zero window):
    /// what it costs the gateway is bounded, and the other clusters' streams and requests
    /// go on.
    func testExportStreamsThatAreNeverReadCostLittleAndStopNobody() throws {
        try start()
        let c2 = mesh.clusters["cluster2"]!
        let gateway = mesh.processes["cluster2"]!
        let rssBefore = gateway.residentBytes() ?? 0
        let layout = mesh.layout
        let hog = try PythonPeer.start("zero_window_client.py", [
            "--port", String(c2.gatewayPort), "--authority", "cluster2", "--path", "/causeway.dev/v1/exports",
            "--streams", "100", "--hold", "4", "--ready-timeout", "5",
            "--tls-ca", layout.rootCertificatePath, "--tls-cert", layout.chainPath(cluster: "cluster3", name: "gateway"),
            "--tls-key", layout.keyPath(cluster: "cluster3", name: "gateway"),
        ])
        defer { hog.stop() }
        let ready = try PythonPeer.wait(for: hog, timeout: 10) { $0.bool("ready") }
        XCTAssertEqual(ready.int("headers"), 100, "every feed was answered")
        // Heartbeats keep queueing for the unread feeds (500 ms) while this runs.
        for _ in 0..<6 {
            XCTAssertEqual(try mesh.get(from: "cluster1", host: "webapp-cluster2").body, "cluster2\n")
            usleep(400_000)
        }
        XCTAssertEqual(try mesh.link("cluster1", "cluster2")?["stream"] as? String, "live", mesh.logs)
        let rssDuring = gateway.residentBytes() ?? 0
        XCTAssertLessThan(rssDuring - rssBefore, 32 << 20, "100 unread feeds cost \(rssDuring - rssBefore) bytes")
    }

    func testExportStreamIsReadableWithCurlByPeersOfTheTrustDomainOnly() throws {
        try start()
        let gateway = "https://127.0.0.1:\(mesh.clusters["cluster2"]!.gatewayPort)/causeway.dev/v1/exports"
        let layout = mesh.layout
        let ok = try runCommand("curl", ["-sS", "--http2", "--max-time", "1", "--cacert", layout.rootCertificatePath,
                                         "--cert", layout.chainPath(cluster: "cluster1", name: "gateway"),
                                         "--key", layout.keyPath(cluster: "cluster1", name: "gateway"), gateway])
        let first = ok.stdoutText.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(first.hasPrefix(#"{"type":"snapshot","cluster":"cluster2","version":1,"heartbeatMillis":500,"services":[{"namespace":"production","name":"webapp""#), ok.stdoutText + ok.stderr)
        XCTAssertTrue(first.contains(#""readyEndpoints":3"#), first)
        XCTAssertFalse(ok.stdoutText.contains("127.0.0."), "pod addresses leaked: \(ok.stdoutText)")
        // Another trust domain's certificate: refused at the handshake.
        let foreign = CertsLayout(directory: dir.path("foreign"))
        _ = try foreign.createRoot(keyAlgorithm: .ecP256, validity: .days(3650, from: Date()), force: false)
        _ = try foreign.createIntermediate(cluster: "cluster1", keyAlgorithm: .ecP256, validity: .days(1825, from: Date()), force: false)
        _ = try foreign.issue(cluster: "cluster1", name: "spy", spiffeID: SPIFFEID(parsing: "spiffe://other.domain/ns/x/sa/spy"),
                              keyAlgorithm: .ecP256, validity: .days(30, from: Date()), force: false)
        let refused = try runCommand("curl", ["-sS", "--http2", "--max-time", "5", "--cacert", layout.rootCertificatePath,
                                              "--cert", foreign.chainPath(cluster: "cluster1", name: "spy"),
                                              "--key", foreign.keyPath(cluster: "cluster1", name: "spy"), gateway])
        XCTAssertFalse(refused.stdoutText.contains("snapshot"), refused.stdoutText)
        XCTAssertNotEqual(refused.status, 0)
    }
}

/// GETs a name in rounds of 40 on a thread of its own while the test changes the mesh.
private final class BackgroundTally: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var tally: [String: Int] = [:]

    init(mesh: MirrorMesh, from cluster: String, host: String, rounds: Int) {
        let thread = Thread { [self] in
            for _ in 0..<rounds {
                if let t = try? mesh.servedBy(from: cluster, host: host, count: 40) { tally.merge(t, uniquingKeysWith: +) }
            }
            done.signal()
        }
        thread.start()
    }

    /// Waits for the last round; the tally of who served (and failed statuses).
    func wait() -> [String: Int] {
        done.wait()
        return tally
    }
}
