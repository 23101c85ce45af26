import Testing
import CausewayMesh

private let gw2 = EndpointAddress(host: "10.0.2.10", port: 15443)!
private let gw2b = EndpointAddress(host: "10.0.2.11", port: 15443)!
private let gw3 = EndpointAddress(host: "10.0.3.10", port: 15443)!
private let links = [
    MeshComposer.Link(cluster: "cluster2", gateways: [gw2, gw2b], identity: "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway"),
    MeshComposer.Link(cluster: "cluster3", gateways: [gw3], identity: "spiffe://mesh.local/ns/mesh-system/sa/cluster3-gateway"),
]

private func mirror(_ cluster: String, _ services: [(String, Int)], ports: [UInt16] = [8080]) -> ClusterMirror {
    var m = ClusterMirror(cluster: cluster)
    _ = m.apply(.snapshot(.init(cluster: cluster, version: 1, heartbeatMillis: 1_000, services: services.map {
        ExportedService(key: ServiceKey(namespace: "production", name: $0.0),
                        ports: ports.map { ServicePort(name: nil, port: $0, appProtocol: nil) }, readyEndpoints: $0.1)
    })), now: 0)
    return m
}

private func configured(localWebapp: Int?, exported: Bool = true) -> ServiceTable {
    var entries: [ServiceEntry] = []
    if let localWebapp {
        let ready = (0..<localWebapp).map { EndpointAddress(host: "10.1.0.\($0 + 1)", port: 8080)! }
        entries.append(ServiceEntry(key: ServiceKey(namespace: "production", name: "webapp"), index: 0, readyEndpoints: ready,
                                    totalEndpoints: ready.count, exported: exported,
                                    ports: [ServicePort(name: nil, port: 8080, appProtocol: nil)]))
    }
    return ServiceTable(services: entries, defaultNamespace: "production")
}

@Suite("MeshComposer")
struct MeshComposerTests {
    @Test("stream mirrors become name-cluster services whose endpoints are the cluster's gateways")
    func mirrorsAsServices() throws {
        let out = MeshComposer.compose(.init(configured: configured(localWebapp: nil), localCluster: "cluster1", links: links,
                                             mirrors: ["cluster2": mirror("cluster2", [("webapp", 3), ("api", 0)])]))
        let table = out.table
        let webapp = try #require(table.resolve(authority: "webapp-cluster2.production.svc.cluster.local").map { table.services[$0] })
        #expect(webapp.readyEndpoints == [gw2, gw2b])
        #expect(webapp.remoteName == ServiceKey(namespace: "production", name: "webapp"))
        #expect(webapp.expectedIdentity == links[0].identity)
        #expect(webapp.mirrorSource == .stream(.init(version: 1, exportedReadyEndpoints: 3, stale: false)))
        // A service with no ready endpoint in its cluster is mirrored as not ready.
        let api = try #require(table.resolve(authority: "api-cluster2").map { table.services[$0] })
        #expect(api.readyEndpoints.isEmpty)
        #expect(api.totalEndpoints == 2)
    }

    @Test("the clusterset name prefers the local export, and lists remote clusters in Link order with their capacity")
    func clustersetMembers() throws {
        let out = MeshComposer.compose(.init(configured: configured(localWebapp: 2), localCluster: "cluster1", links: links,
                                             mirrors: ["cluster3": mirror("cluster3", [("webapp", 1)]), "cluster2": mirror("cluster2", [("webapp", 3)])]))
        let index = try #require(out.table.resolve(authority: "webapp.production.svc.clusterset.local"))
        let set = out.table.services[index]
        #expect(set.isClusterset)
        #expect(set.members.map(\.cluster) == ["cluster1", "cluster2", "cluster3"])
        #expect(set.members.map(\.weight) == [2, 3, 1])
        #expect(set.members.map(\.isLocal) == [true, false, false])
        // Short names stay with the local service.
        #expect(out.table.resolve(authority: "webapp") == 0)
        #expect(out.table.resolve(authority: "webapp.production.svc.clusterset") == nil)
    }

    @Test("a local service joins the clusterset only when exported")
    func unexportedLocal() throws {
        let out = MeshComposer.compose(.init(configured: configured(localWebapp: 2, exported: false), localCluster: "cluster1",
                                             links: links, mirrors: ["cluster2": mirror("cluster2", [("webapp", 3)])]))
        let set = try #require(out.table.resolve(authority: "webapp.production.svc.clusterset.local").map { out.table.services[$0] })
        #expect(set.members.map(\.cluster) == ["cluster2"])
    }

    @Test("unreachable gateways leave mirrored endpoints; stale and expired leases")
    func healthAndLeases() throws {
        var m = mirror("cluster2", [("webapp", 3)])
        m.streamLost(now: 0)
        let lease = ClusterMirror.LeasePolicy(staleAfterNanos: 10, removeAfterNanos: 20)
        func compose(now: UInt64) -> ServiceTable {
            MeshComposer.compose(.init(configured: configured(localWebapp: nil), localCluster: "cluster1", links: links,
                                       mirrors: ["cluster2": m], down: [gw2], lease: lease, now: now)).table
        }
        let fresh = compose(now: 5)
        let entry = try #require(fresh.resolve(authority: "webapp-cluster2").map { fresh.services[$0] })
        #expect(entry.readyEndpoints == [gw2b])
        let stale = compose(now: 10)
        #expect(stale.resolve(authority: "webapp-cluster2").map { stale.services[$0].mirrorSource } == .stream(.init(version: 1, exportedReadyEndpoints: 3, stale: true)))
        let expired = compose(now: 20)
        #expect(expired.resolve(authority: "webapp-cluster2") == nil)
        #expect(expired.resolve(authority: "webapp.production.svc.clusterset.local") == nil)
    }

    @Test("static mirror files win over the stream and say so; names too long are noted")
    func notes() {
        let fileMirror = ServiceEntry(key: ServiceKey(namespace: "production", name: "webapp-cluster2"), index: 0, readyEndpoints: [gw2],
                                      totalEndpoints: 1, sourceCluster: "cluster2", remoteName: ServiceKey(namespace: "production", name: "webapp"),
                                      expectedIdentity: links[0].identity)
        let long = String(repeating: "a", count: 60)
        let out = MeshComposer.compose(.init(configured: ServiceTable(services: [fileMirror], defaultNamespace: "production"),
                                             localCluster: "cluster1", links: links,
                                             mirrors: ["cluster2": mirror("cluster2", [("webapp", 3), (long, 1)])]))
        #expect(out.table.services.filter { !$0.isClusterset }.count == 1)
        #expect(out.table.services[0].mirrorSource == .file)
        #expect(out.notes.contains { $0.contains("kept from static EndpointSlice files") })
        #expect(out.notes.contains { $0.contains("longer than a DNS label") })
    }

    @Test("conflicting exported ports are noted")
    func portConflict() {
        let out = MeshComposer.compose(.init(configured: configured(localWebapp: nil), localCluster: "cluster1", links: links,
                                             mirrors: ["cluster2": mirror("cluster2", [("webapp", 1)], ports: [8080]),
                                                       "cluster3": mirror("cluster3", [("webapp", 1)], ports: [9090])]))
        #expect(out.notes.contains { $0.contains("conflicting exports of webapp.production.svc.clusterset.local") && $0.contains("cluster3 exports 9090") })
    }
}

@Suite("SmoothWeightedPicker")
struct SmoothWeightedPickerTests {
    @Test("20,000 picks follow the weights within half a point, interleaved")
    func proportions() {
        let weights = [3, 1, 6]
        var picker = SmoothWeightedPicker(count: 3)
        var hits = [0, 0, 0]
        var longestRun = 0, run = 0, last = -1
        for _ in 0..<20_000 {
            let pick = picker.next(weight: { weights[$0] }, eligible: { _ in true })!
            hits[pick] += 1
            run = pick == last ? run + 1 : 1
            last = pick
            longestRun = max(longestRun, run)
        }
        for i in 0..<3 { #expect(abs(Double(hits[i]) / 20_000 - Double(weights[i]) / 10) < 0.005) }
        #expect(longestRun <= 2)
    }

    @Test("ineligible and zero-weight choices get nothing; none eligible is nil")
    func eligibility() {
        var picker = SmoothWeightedPicker(count: 3)
        let picks = (0..<100).map { _ in picker.next(weight: { [5, 0, 5][$0] }, eligible: { $0 != 2 })! }
        #expect(Set(picks) == [0])
        #expect(picker.next(weight: { _ in 1 }, eligible: { _ in false }) == nil)
    }
}

@Suite("AuthorityPort")
struct AuthorityPortTests {
    @Test("ports of names and IP literals", arguments: [
        ("webapp:8080", UInt16(8080) as UInt16?), ("webapp", nil), ("[::1]:443", 443), ("[::1]", nil), ("a:0", nil), ("a:65536", nil),
        ("a:", nil), ("a:8x", nil), ("a:123456", nil),
    ])
    func parse(authority: String, expected: UInt16?) {
        var text = authority
        #expect(text.withUTF8 { AuthorityPort.parse(UnsafeRawBufferPointer($0)) } == expected)
    }
}
