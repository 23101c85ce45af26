import Testing
@testable import CausewayMesh

@Suite("SPIFFE IDs")
struct SPIFFEIDTests {
    @Test("valid IDs keep their one spelling", arguments: [
        ("spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway", "mesh.local", "/ns/mesh-system/sa/cluster2-gateway"),
        ("spiffe://cluster.local/gw", "cluster.local", "/gw"),
        ("spiffe://a/b", "a", "/b"),
        ("spiffe://my_domain-1.example/Path.With-Mixed_Case/x..y", "my_domain-1.example", "/Path.With-Mixed_Case/x..y"),
        ("spiffe://mesh.local/.hidden/..x", "mesh.local", "/.hidden/..x"),
    ])
    func valid(text: String, trustDomain: String, path: String) throws {
        let id = try SPIFFEID(parsing: text)
        #expect(id.trustDomain == trustDomain)
        #expect(id.path == path)
        #expect(id.description == text)
        #expect(SPIFFEID(text) == id)
    }

    @Test("invalid IDs say why", arguments: [
        ("", "it must start with spiffe://"),
        ("mesh.local/gw", "it must start with spiffe://"),
        ("https://mesh.local/gw", "it must start with spiffe://"),
        ("spiffe:/mesh.local/gw", "it must start with spiffe://"),
        ("SPIFFE://mesh.local/gw", "the scheme must be written in lowercase, spiffe://"),
        ("spiffe://", "the trust domain is missing"),
        ("spiffe:///gw", "the trust domain is missing"),
        ("spiffe://Mesh.local/gw", "the trust domain \"Mesh.local\" may only hold lowercase letters, digits, '.', '-' and '_' (at most 255)"),
        ("spiffe://mesh local/gw", "the trust domain \"mesh local\" may only hold lowercase letters, digits, '.', '-' and '_' (at most 255)"),
        ("spiffe://mesh.local:8443/gw", "the trust domain must not have a port"),
        ("spiffe://user@mesh.local/gw", "the trust domain must not have user info (@)"),
        ("spiffe://mesh.local/gw?x=1", "it must not have a query (?) or a fragment (#)"),
        ("spiffe://mesh.local/gw#frag", "it must not have a query (?) or a fragment (#)"),
        ("spiffe://mesh.local", "it needs a path naming a workload, e.g. spiffe://mesh.local/ns/default/sa/name"),
        ("spiffe://mesh.local/", "it needs a path naming a workload, e.g. spiffe://mesh.local/ns/default/sa/name"),
        ("spiffe://mesh.local/ns/", "the path must not end with '/'"),
        ("spiffe://mesh.local/ns//sa", "the path must not have empty segments (//)"),
        ("spiffe://mesh.local/ns/./sa", "the path must not have '.' or '..' segments"),
        ("spiffe://mesh.local/ns/../sa", "the path must not have '.' or '..' segments"),
        ("spiffe://mesh.local/ns/a%20b", "the path segment \"a%20b\" may only hold letters, digits, '.', '-' and '_'"),
        ("spiffe://mesh.local/ns/wébapp", "the path segment \"wébapp\" may only hold letters, digits, '.', '-' and '_'"),
    ])
    func invalid(text: String, message: String) {
        #expect(throws: SPIFFEID.ParseError(message: message)) { try SPIFFEID(parsing: text) }
        #expect(SPIFFEID(text) == nil)
    }

    @Test("length limits of the standard")
    func limits() {
        let domain = String(repeating: "a", count: 255)
        #expect(SPIFFEID("spiffe://\(domain)/x")?.trustDomain == domain)
        #expect(SPIFFEID("spiffe://\(domain)a/x") == nil)
        let longPath = "/" + String(repeating: "p", count: SPIFFEID.maxLength - "spiffe://d/".utf8.count)
        #expect(SPIFFEID("spiffe://d\(longPath)")?.description.utf8.count == SPIFFEID.maxLength)
        #expect(throws: SPIFFEID.ParseError(message: "it is longer than 2048 bytes")) {
            try SPIFFEID(parsing: "spiffe://d\(longPath)p")
        }
    }

    @Test("trust domain names", arguments: [
        ("mesh.local", true), ("cluster.local", true), ("a_b-c.1", true), ("", false), ("Mesh", false),
        ("mesh:1", false), ("mesh/x", false), (String(repeating: "x", count: 256), false),
    ])
    func trustDomains(name: String, valid: Bool) {
        #expect(SPIFFEID.isValidTrustDomain(name) == valid)
    }
}
