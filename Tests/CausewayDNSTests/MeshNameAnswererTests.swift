import XCTest
import CausewayMesh
@testable import CausewayDNS

final class MeshNameAnswererTests: XCTestCase {
    /// production/webapp (local, exported), production/webapp-cluster2 (mirrored),
    /// staging/api (local), and the clusterset webapp.production.
    private func table(extra: [String] = []) -> ServiceTable {
        var entries: [ServiceEntry] = []
        func add(_ name: String, _ ns: String, clusterset: Bool = false, source: String? = nil) {
            entries.append(ServiceEntry(key: ServiceKey(namespace: ns, name: name, clusterset: clusterset), index: entries.count,
                                        readyEndpoints: [], totalEndpoints: 0, sourceCluster: source,
                                        remoteName: source.map { _ in ServiceKey(namespace: ns, name: "webapp") }))
        }
        add("webapp", "production")
        add("webapp-cluster2", "production", source: "cluster2")
        add("api", "staging")
        for name in extra { add(name, "production") }
        add("webapp", "production", clusterset: true)
        return ServiceTable(services: entries, defaultNamespace: "production")
    }

    private func answerer(_ table: ServiceTable, ipv6: String? = nil, range: VirtualIPRange = .defaultIPv4) throws -> MeshNameAnswerer {
        let names = MeshNameAnswerer.names(of: table)
        return MeshNameAnswerer(table: table, ipv4: VirtualIPAllocation(names: names, range: range),
                                ipv6: try ipv6.map { VirtualIPAllocation(names: names, range: try VirtualIPRange(parsing: $0)) })
    }

    private func ask(_ a: MeshNameAnswerer, _ name: String, _ type: UInt16 = DNSType.a, class qclass: UInt16 = DNSClass.internet) -> MeshAnswer {
        a.answer(DNSQuestion(name: DNSName(name), type: type, class: qclass))
    }

    private func address(_ answer: MeshAnswer) -> String? {
        guard case .addresses(_, let records) = answer, records.count == 1 else { return nil }
        return VirtualIPRange.text(of: records[0].data)
    }

    func testEveryFormOfALocalNameGetsTheServicesVirtualIP() throws {
        let a = try answerer(table())
        let vip = "240.240.165.39"  // webapp.production, see VirtualIPAllocatorTests
        for name in ["webapp", "webapp.production", "webapp.production.svc", "webapp.production.svc.cluster.local",
                     "WebApp.Production.SVC.Cluster.Local", "webapp.production.svc.cluster.local."] {
            XCTAssertEqual(address(ask(a, name)), vip, name)
        }
        guard case .addresses(let service, let records) = ask(a, "webapp") else { return XCTFail() }
        XCTAssertEqual(service, 0)
        XCTAssertEqual(records[0].type, DNSType.a)
        XCTAssertEqual(records[0].ttl, MeshNameAnswerer.ttl)
    }

    func testBareNamesOnlyInTheProxysNamespace() throws {
        let a = try answerer(table())
        XCTAssertEqual(ask(a, "api"), .forward)
        XCTAssertNotNil(address(ask(a, "api.staging")))
        XCTAssertNotNil(address(ask(a, "api.staging.svc.cluster.local")))
    }

    func testMirroredAndClustersetNamesHaveTheirOwnVirtualIPs() throws {
        let a = try answerer(table())
        XCTAssertEqual(address(ask(a, "webapp-cluster2.production.svc.cluster.local")), "240.240.80.149")
        XCTAssertEqual(address(ask(a, "webapp-cluster2")), "240.240.80.149")
        XCTAssertEqual(address(ask(a, "webapp.production.svc.clusterset.local")), "240.240.67.38")
        // Only the full clusterset form names the clusterset Service.
        XCTAssertEqual(ask(a, "webapp.production.svc.clusterset"), .forward)
    }

    func testAnswersDoNotDependOnTheTablesOrder() throws {
        let one = try answerer(table())
        let two = try answerer(table(extra: ["zeta", "alpha", "mid"]))
        for name in ["webapp", "webapp-cluster2", "webapp.production.svc.clusterset.local", "api.staging"] {
            XCTAssertEqual(address(ask(one, name)), address(ask(two, name)), name)
        }
        XCTAssertNotNil(address(ask(two, "alpha")))
        XCTAssertEqual(ask(one, "alpha"), .forward)
    }

    func testAAAAIsEmptyWithoutAnIPv6Range() throws {
        let a = try answerer(table())
        XCTAssertEqual(ask(a, "webapp", DNSType.aaaa), .noData(service: 0))
        let v6 = try answerer(table(), ipv6: "fd00:ca05::/48")
        guard case .addresses(0, let records) = ask(v6, "webapp.production", DNSType.aaaa) else { return XCTFail() }
        XCTAssertEqual(records[0].type, DNSType.aaaa)
        XCTAssertEqual(records[0].data.count, 16)
        XCTAssertEqual(Array(records[0].data.prefix(6)), [0xfd, 0x00, 0xca, 0x05, 0, 0])
        // A is unchanged by the IPv6 range.
        XCTAssertEqual(address(ask(v6, "webapp")), "240.240.165.39")
    }

    func testOtherTypesHaveNoRecordsAndANYGetsTheAddress() throws {
        let a = try answerer(table())
        XCTAssertEqual(ask(a, "webapp", 15), .noData(service: 0))   // MX
        XCTAssertEqual(ask(a, "webapp", 16), .noData(service: 0))   // TXT
        XCTAssertEqual(ask(a, "webapp", 33), .noData(service: 0))   // SRV
        XCTAssertEqual(address(ask(a, "webapp", DNSType.any)), "240.240.165.39")
    }

    func testUnknownClustersetNamesDoNotExist() throws {
        let a = try answerer(table())
        XCTAssertEqual(ask(a, "nope.production.svc.clusterset.local"), .nameError)
        XCTAssertEqual(ask(a, "webapp.staging.svc.clusterset.local"), .nameError)
        XCTAssertEqual(ask(a, "pod.webapp.production.svc.clusterset.local"), .nameError)
        XCTAssertEqual(ask(a, "webapp.production.svc.clusterset.local", 15), .noData(service: 3))
        XCTAssertEqual(ask(a, "NOPE.Production.SVC.ClusterSet.Local"), .nameError)
        // Names that are only odd bytes are still in the zone.
        XCTAssertEqual(ask(a, "we b.production.svc.clusterset.local"), .nameError)
        // Names above Services exist, without records.
        XCTAssertEqual(ask(a, "production.svc.clusterset.local"), .noData(service: nil))
        XCTAssertEqual(ask(a, "svc.clusterset.local"), .noData(service: nil))
        XCTAssertEqual(ask(a, "staging.svc.clusterset.local"), .nameError)
        // Outside svc.clusterset.local: not ours.
        XCTAssertEqual(ask(a, "clusterset.local"), .forward)
        XCTAssertEqual(ask(a, "other.clusterset.local"), .forward)
        XCTAssertEqual(ask(a, "xsvc.clusterset.local"), .forward)
    }

    func testEverythingElseIsForwarded() throws {
        let a = try answerer(table())
        XCTAssertEqual(ask(a, "example.test"), .forward)
        XCTAssertEqual(ask(a, "kubernetes.default.svc.cluster.local"), .forward)
        XCTAssertEqual(ask(a, "webapp.production.svc.cluster.local.production.svc.cluster.local"), .forward)
        XCTAssertEqual(ask(a, ""), .forward)
        // Class CH or any class but IN.
        XCTAssertEqual(ask(a, "webapp", class: 3), .forward)
        XCTAssertEqual(ask(a, "nope.production.svc.clusterset.local", class: 3), .forward)
    }

    func testNamesThatAreNotHostnamesAreNeverMeshNames() throws {
        let a = try answerer(table())
        // The table would read "webapp:80" as webapp on port 80, and "[::1]" as an address.
        XCTAssertEqual(ask(a, "webapp:80"), .forward)
        XCTAssertEqual(ask(a, "webapp.production:80"), .forward)
        XCTAssertEqual(ask(a, "[webapp]"), .forward)
        let dotted = DNSName(text: Array("webapp.production".utf8), isHostname: false)
        XCTAssertEqual(a.answer(DNSQuestion(name: dotted, type: DNSType.a)), .forward)
    }

    func testAServiceWithoutAnAddressIsAFailure() throws {
        let a = try answerer(table(), range: try VirtualIPRange(parsing: "10.0.0.0/30"))
        // Four names, two addresses: the two that sort last have none.
        XCTAssertEqual(a.ipv4.unallocated.count, 2)
        let missing = try XCTUnwrap(a.ipv4.unallocated.first)
        let index = try XCTUnwrap(a.table.services.firstIndex { $0.key.description == missing })
        XCTAssertEqual(ask(a, missing), .noAddress(service: index))
    }
}
