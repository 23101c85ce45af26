import Testing
@testable import CausewayMesh

/// A table with services in three namespaces; `production` is the default namespace.
private func makeTable(clusterDomain: String = "cluster.local") -> ServiceTable {
    let keys = [
        ServiceKey(namespace: "finance", name: "billing"),
        ServiceKey(namespace: "production", name: "webapp"),
        ServiceKey(namespace: "production", name: "webapp-cluster2"),
        ServiceKey(namespace: "staging", name: "api"),
    ]
    let entries = keys.enumerated().map { index, key in
        ServiceEntry(
            key: key, index: index, readyEndpoints: [], totalEndpoints: 0,
            sourceCluster: key.name.hasSuffix("-cluster2") ? "cluster2" : nil)
    }
    return ServiceTable(services: entries, defaultNamespace: "production", clusterDomain: clusterDomain)
}

private let billing = 0, webapp = 1, mirrored = 2, api = 3

@Suite("ServiceTable name resolution")
struct ServiceTableTests {
    let table = makeTable()

    @Test("every alias form resolves", arguments: [
        ("webapp", webapp),
        ("webapp.production", webapp),
        ("webapp.production.svc", webapp),
        ("webapp.production.svc.cluster.local", webapp),
        ("billing.finance", billing),
        ("billing.finance.svc", billing),
        ("billing.finance.svc.cluster.local", billing),
        ("api.staging.svc.cluster.local", api),
        ("webapp-cluster2", mirrored),
        ("webapp-cluster2.production.svc.cluster.local", mirrored),
    ])
    func forms(authority: String, expected: Int) {
        #expect(table.resolve(authority: authority) == expected)
    }

    @Test("a port suffix is ignored", arguments: [
        ("webapp:8080", webapp),
        ("webapp.production:80", webapp),
        ("webapp.production.svc.cluster.local:15001", webapp),
        ("webapp:", webapp),  // RFC 3986: port = *DIGIT, so an empty port is allowed
        ("webapp.:8080", webapp),
        ("billing.finance.svc:65535", billing),
    ])
    func ports(authority: String, expected: Int) {
        #expect(table.resolve(authority: authority) == expected)
    }

    @Test("letters compare case-insensitively", arguments: [
        ("WEBAPP", webapp),
        ("WebApp.Production", webapp),
        ("webapp.PRODUCTION.Svc.Cluster.LOCAL", webapp),
        ("Billing.Finance.SVC:443", billing),
    ])
    func caseInsensitive(authority: String, expected: Int) {
        #expect(table.resolve(authority: authority) == expected)
    }

    @Test("one trailing dot is allowed", arguments: [
        ("webapp.", webapp),
        ("webapp.production.", webapp),
        ("webapp.production.svc.cluster.local.", webapp),
        ("webapp.production.svc.cluster.local.:8080", webapp),
    ])
    func trailingDot(authority: String, expected: Int) {
        #expect(table.resolve(authority: authority) == expected)
    }

    @Test("names that are not aliases do not resolve", arguments: [
        "",
        ".",
        ":8080",
        "webapp..",
        "webapp.production..",
        ".webapp",
        "unknown",
        "unknown.production",
        "webapp.staging",  // wrong namespace
        "billing",  // bare name of a service outside the default namespace
        "api",
        "billing.production",
        "webapp.production.svc.cluster",
        "webapp.production.svc.cluster.local.extra",
        "webapp.production.svc.clusterset.local",
        "x.webapp.production",
        "webapp.production.cluster.local",
        "webap",
        "webappp",
        "webapp:80a",  // malformed port
        "webapp:-1",
        "webapp:8080:80",
        "user@webapp",
        "wébapp",
        "webapp ",
        " webapp",
    ])
    func unknown(authority: String) {
        #expect(table.resolve(authority: authority) == nil)
    }

    @Test("IP literals never resolve, with or without a port", arguments: [
        "[::1]:8080", "[::1]", "::1", "[2001:db8::1]:443", "10.0.0.1", "10.0.0.1:8080", "[webapp]:80",
    ])
    func ipLiterals(authority: String) {
        #expect(table.resolve(authority: authority) == nil)
    }

    @Test("the byte form reads only the given bytes")
    func byteForm() {
        let buffer = Array("xxwebapp.production:8080yy".utf8)
        let result = buffer.withUnsafeBytes { raw in
            table.resolve(authority: UnsafeRawBufferPointer(rebasing: raw[2..<24]))
        }
        #expect(result == webapp)
        let prefix = buffer.withUnsafeBytes { raw in
            table.resolve(authority: UnsafeRawBufferPointer(rebasing: raw[2..<7]))  // "webap"
        }
        #expect(prefix == nil)
        let empty = table.resolve(authority: UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(empty == nil)
    }

    @Test("bytes that are not UTF-8 do not resolve and do not crash")
    func invalidUTF8() {
        for bytes: [UInt8] in [[0xff, 0xfe], [0x77, 0x65, 0x62, 0xc3], [0x00], [0x3a, 0xff]] {
            let result = bytes.withUnsafeBytes { table.resolve(authority: $0) }
            #expect(result == nil)
        }
    }

    @Test("an oversized authority is rejected without matching")
    func oversized() {
        let long = String(repeating: "a", count: 100_000)
        #expect(table.resolve(authority: long) == nil)
        #expect(table.resolve(authority: "webapp:" + String(repeating: "9", count: 10_000)) == webapp)
    }

    @Test("the cluster domain is configurable and normalised")
    func clusterDomain() {
        let custom = makeTable(clusterDomain: "Mesh.Example.")
        #expect(custom.clusterDomain == "mesh.example")
        #expect(custom.resolve(authority: "webapp.production.svc.mesh.example") == webapp)
        #expect(custom.resolve(authority: "webapp.production.svc.cluster.local") == nil)
        #expect(custom.resolve(authority: "webapp.production.svc") == webapp)
    }

    @Test("an empty table resolves nothing")
    func emptyTable() {
        let empty = ServiceTable(services: [], defaultNamespace: "default")
        #expect(empty.services.isEmpty)
        #expect(empty.resolve(authority: "webapp") == nil)
        #expect(empty.resolve(authority: "") == nil)
    }

    @Test("thousands of services each resolve to their own index")
    func manyServices() {
        let namespaces = ["default", "production", "staging", "finance"]
        var entries: [ServiceEntry] = []
        for n in 0..<2_000 {
            let key = ServiceKey(namespace: namespaces[n % namespaces.count], name: "svc-\(n)")
            entries.append(ServiceEntry(key: key, index: n, readyEndpoints: [], totalEndpoints: 0))
        }
        let big = ServiceTable(services: entries, defaultNamespace: "default")
        var wrong = 0
        for entry in entries {
            let key = entry.key
            for authority in ["\(key.name).\(key.namespace)", "\(key.name).\(key.namespace).svc",
                              "\(key.name).\(key.namespace).svc.cluster.local:80"]
            where big.resolve(authority: authority) != entry.index {
                wrong += 1
            }
            let bare = big.resolve(authority: key.name)
            if bare != (key.namespace == "default" ? entry.index : nil) { wrong += 1 }
        }
        #expect(wrong == 0)
        #expect(big.resolve(authority: "svc-2000") == nil)
    }

    @Test("the table keeps entries in index order")
    func entries() {
        #expect(table.services.map(\.index) == [0, 1, 2, 3])
        #expect(table.services[mirrored].sourceCluster == "cluster2")
        #expect(table.services[webapp].sourceCluster == nil)
        #expect(table.defaultNamespace == "production")
    }
}

@Suite("AuthorityName")
struct AuthorityNameTests {
    @Test("hash matches the alias hash of the normalised name", arguments: [
        ("WebApp.Production.:8080", "webapp.production"),
        ("webapp", "webapp"),
        ("A.", "a"),
    ])
    func hashing(authority: String, normalised: String) throws {
        var authority = authority
        let name = try #require(authority.withUTF8 { AuthorityName(UnsafeRawBufferPointer($0), maxLength: 64) })
        #expect(name.length == normalised.utf8.count)
        #expect(name.hash == AliasHash.hash(normalised.utf8))
    }

    @Test("a name longer than the longest alias is rejected early")
    func maxLength() {
        var exact = "abcd."
        #expect(exact.withUTF8 { AuthorityName(UnsafeRawBufferPointer($0), maxLength: 4) }?.length == 4)
        var tooLong = "abcde"
        #expect(tooLong.withUTF8 { AuthorityName(UnsafeRawBufferPointer($0), maxLength: 4) } == nil)
    }
}

@Suite("ServiceTable exports and mirrors")
struct ServiceTableExportTests {
    /// `webapp` and `api` exported, `internal` local only, `webapp-cluster2` mirrored.
    let table: ServiceTable = {
        let identity = "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway"
        let entries = [
            ServiceEntry(key: ServiceKey(namespace: "production", name: "api"), index: 0, readyEndpoints: [], totalEndpoints: 0,
                         exported: true),
            ServiceEntry(key: ServiceKey(namespace: "production", name: "internal"), index: 1, readyEndpoints: [], totalEndpoints: 0),
            ServiceEntry(key: ServiceKey(namespace: "production", name: "webapp"), index: 2,
                         readyEndpoints: [EndpointAddress(host: "10.2.0.5", port: 8080)!], totalEndpoints: 1, exported: true),
            ServiceEntry(key: ServiceKey(namespace: "production", name: "webapp-cluster2"), index: 3,
                         readyEndpoints: [EndpointAddress(host: "10.0.2.10", port: 15443)!], totalEndpoints: 1,
                         sourceCluster: "cluster2", remoteName: ServiceKey(namespace: "production", name: "webapp"),
                         expectedIdentity: identity),
        ]
        return ServiceTable(services: entries, defaultNamespace: "production")
    }()

    @Test("a gateway resolves exported services by every alias", arguments: [
        ("webapp", 2), ("webapp.production", 2), ("WEBAPP.production.svc.cluster.local.:15443", 2), ("api.production.svc", 0),
    ])
    func exported(authority: String, expected: Int) {
        #expect(table.resolveExported(authority: authority) == expected)
        #expect(table.resolve(authority: authority) == expected)
    }

    @Test("unexported, mirrored and unknown names all read as nil to a gateway", arguments: [
        "internal", "internal.production", "webapp-cluster2", "webapp-cluster2.production", "unknown", "", "10.0.0.1:80",
    ])
    func notExported(authority: String) {
        #expect(table.resolveExported(authority: authority) == nil)
    }

    @Test("the byte form matches the string form")
    func byteForm() {
        let bytes = Array("webapp.production:8080".utf8)
        #expect(bytes.withUnsafeBytes { table.resolveExported(authority: $0) } == 2)
        let hidden = Array("internal".utf8)
        #expect(hidden.withUnsafeBytes { table.resolveExported(authority: $0) } == nil)
    }

    @Test("entries carry the export flag and mirror fields")
    func entryFields() {
        #expect(table.services.map(\.exported) == [true, false, true, false])
        #expect(table.services.indices.map(table.isExported) == [true, false, true, false])
        #expect(table.services.map(\.isMirrored) == [false, false, false, true])
        let mirror = table.services[3]
        #expect(mirror.remoteName?.description == "webapp.production")
        #expect(mirror.expectedIdentity == "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway")
        #expect(table.services[2].remoteName == nil)
        #expect(table.services[2].expectedIdentity == nil)
    }

    @Test("the original initializer still means a local, unexported service")
    func defaults() {
        let entry = ServiceEntry(key: ServiceKey(namespace: "a", name: "b"), index: 0, readyEndpoints: [], totalEndpoints: 0)
        #expect(entry.sourceCluster == nil)
        #expect(entry.remoteName == nil)
        #expect(entry.expectedIdentity == nil)
        #expect(!entry.exported)
        #expect(!entry.isMirrored)
    }
}
