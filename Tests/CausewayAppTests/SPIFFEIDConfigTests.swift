import Testing
@testable import CausewayApp

// The config validates SPIFFE IDs with the parser the TLS handshake uses
// (`CausewayTLS.SPIFFEID`), so these cases pin what a Link's `spec.identity` accepts and the
// problem each refusal prints. Syntax cases not repeated here are in
// `MultiClusterValidationTests` (port, query, no path, uppercase trust domain, other scheme,
// empty segment in an annotation).

/// `mesh/link.yaml` = `linkYAML()` whose line 8 is `  identity: "<identity>"` (value at column 13).
private func link(identity: String) -> [String: String] {
    meshFiles(["mesh/link.yaml": replacing(linkYAML(), identityLine, "  identity: \"\(identity)\"")])
}

private let identityLine = "  identity: spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway"
private let trustDomainLine = "  trustDomain: mesh.local"
private func trustDomainRule(found: String) -> String {
    "trust domain may only hold lowercase letters, digits, '.', '-' and '_' (found \(found); no port, user info, query or fragment)"
}

private func pathRule(found: String) -> String {
    "path may only hold letters, digits, '.', '-', '_' and '/' (found \(found); no query or fragment)"
}

/// The problem for `identity` on line 8 of `mesh/link.yaml`.
private func problem(_ identity: String, _ why: String) -> [String] {
    ["mesh/link.yaml:8:13: spec.identity: \"\(identity)\" is not a SPIFFE ID: \(why)"]
}

private func badTrustDomain(_ identity: String, found: String) -> ErrorCase {
    ErrorCase("trust domain with \(found)", link(identity: identity), problem(identity, trustDomainRule(found: found)))
}

private func badPath(_ identity: String, found: String) -> ErrorCase {
    ErrorCase("path with \(found)", link(identity: identity), problem(identity, pathRule(found: found)))
}

@Suite("SPIFFE IDs in configuration")
struct SPIFFEIDConfigTests {
    static let invalid: [ErrorCase] = [
        ErrorCase("empty", link(identity: ""), ["mesh/link.yaml:8:13: spec.identity: must not be empty"]),
        ErrorCase("no scheme", link(identity: "mesh.local/gw"), problem("mesh.local/gw", "a SPIFFE ID starts with spiffe:// (lowercase)")),
        ErrorCase("one slash after the scheme", link(identity: "spiffe:/mesh.local/gw"),
                  problem("spiffe:/mesh.local/gw", "a SPIFFE ID starts with spiffe:// (lowercase)")),
        ErrorCase("uppercase scheme", link(identity: "SPIFFE://mesh.local/gw"),
                  problem("SPIFFE://mesh.local/gw", "a SPIFFE ID starts with spiffe:// (lowercase)")),
        ErrorCase("scheme alone", link(identity: "spiffe://"), problem("spiffe://", "missing trust domain")),
        ErrorCase("no trust domain", link(identity: "spiffe:///gw"), problem("spiffe:///gw", "missing trust domain")),
        badTrustDomain("spiffe://mesh local/gw", found: "U+20"),
        badTrustDomain("spiffe://user@mesh.local/gw", found: "'@'"),
        badTrustDomain("spiffe://mesh.local?x=1", found: "'?'"),
        badPath("spiffe://mesh.local/gw#frag", found: "'#'"),
        badPath("spiffe://mesh.local/ns/a%20b", found: "'%'"),
        badPath("spiffe://mesh.local/ns/wébapp", found: "U+E9"),
        ErrorCase("path of one slash", link(identity: "spiffe://mesh.local/"), problem("spiffe://mesh.local/", "trailing '/' in path")),
        ErrorCase("trailing slash", link(identity: "spiffe://mesh.local/ns/"), problem("spiffe://mesh.local/ns/", "trailing '/' in path")),
        ErrorCase("'.' segment", link(identity: "spiffe://mesh.local/ns/./sa"),
                  problem("spiffe://mesh.local/ns/./sa", "path segments '.' and '..' are not allowed")),
        ErrorCase("'..' segment", link(identity: "spiffe://mesh.local/ns/../sa"),
                  problem("spiffe://mesh.local/ns/../sa", "path segments '.' and '..' are not allowed")),
        ErrorCase("longer than 2048 bytes", link(identity: longID(bytes: 2049)),
                  problem(longID(bytes: 2049), "SPIFFE ID longer than 2048 bytes, or trust domain longer than 255")),
    ]

    @Test("a Link's identity the handshake would refuse is a problem at its line and column", arguments: invalid)
    func invalidIdentities(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("valid identities are kept in their one spelling", arguments: [
        "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway",
        "spiffe://mesh.local/Path.With-Mixed_Case/x..y",
        "spiffe://mesh.local/.hidden/..x",
        longID(bytes: 2048),
    ])
    func validIdentities(identity: String) throws {
        let config = try withTree(link(identity: identity)) { try $0.load().get() }
        #expect(config.links.map(\.identity) == [identity])
    }

    @Test("a 255-byte trust domain is accepted, a 256-byte one is refused in the Proxy and in the Link")
    func trustDomainLength() throws {
        let longest = String(repeating: "a", count: 255)
        let accepted = meshFiles([
            "causeway.yaml": replacing(meshProxyYAML(), trustDomainLine, "  trustDomain: \(longest)"),
            "mesh/link.yaml": replacing(linkYAML(), identityLine, "  identity: spiffe://\(longest)/gw"),
        ])
        let config = try withTree(accepted) { try $0.load().get() }
        #expect(config.proxy.trustDomain == longest)
        #expect(config.links.map(\.identity) == ["spiffe://\(longest)/gw"])

        let tooLong = longest + "a"
        let refused = meshFiles([
            "causeway.yaml": replacing(meshProxyYAML(), trustDomainLine, "  trustDomain: \(tooLong)"),
            "mesh/link.yaml": replacing(linkYAML(), identityLine, "  identity: spiffe://\(tooLong)/gw"),
        ])
        let problems = try withTree(refused) { $0.problems() }
        #expect(problems == [
            "causeway.yaml:11:16: spec.trustDomain: \"\(tooLong)\" must be a SPIFFE trust domain: lowercase letters, digits, '.', '-' and '_'",
            "mesh/link.yaml:8:13: spec.identity: \"spiffe://\(tooLong)/gw\" is not a SPIFFE ID: "
                + "SPIFFE ID longer than 2048 bytes, or trust domain longer than 255",
        ])
    }

    @Test("Proxy trust domains follow the handshake's rule", arguments: [
        ("mesh.local", true), ("cluster.local", true), ("a_b-c.1", true), (String(repeating: "x", count: 255), true),
        ("", false), ("Mesh", false), ("mesh:1", false), ("mesh/x", false), ("spiffe://mesh.local", false),
        (String(repeating: "x", count: 256), false),
    ])
    func trustDomains(name: String, valid: Bool) {
        #expect(NameRules.isTrustDomain(name) == valid)
    }
}

/// `spiffe://mesh.local/ppp...` of exactly `bytes` bytes.
private func longID(bytes: Int) -> String {
    let prefix = "spiffe://mesh.local/"
    return prefix + String(repeating: "p", count: bytes - prefix.utf8.count)
}
