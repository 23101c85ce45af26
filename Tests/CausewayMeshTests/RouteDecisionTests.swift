import Testing
@testable import CausewayMesh

private func table() -> ServiceTable {
    let keys = [ServiceKey(namespace: "production", name: "webapp"), ServiceKey(namespace: "production", name: "internal")]
    let entries = keys.enumerated().map { index, key in
        ServiceEntry(key: key, index: index, readyEndpoints: [], totalEndpoints: 0, sourceCluster: nil, exported: key.name == "webapp")
    }
    return ServiceTable(services: entries, defaultNamespace: "production")
}

/// Runs `decide` with string values turned into borrowed bytes, as the proxy passes them.
private func decide(method: String? = "GET", authority: String?, host: String? = nil, scope: RouteScope = .anyService) -> RouteDecision {
    func with(_ s: String?, _ body: (UnsafeRawBufferPointer?) -> RouteDecision) -> RouteDecision {
        guard var s else { return body(nil) }
        return s.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
    return with(method) { m in with(authority) { a in with(host) { h in
        RouteDecision.decide(RequestHead(method: m, authority: a, host: h), in: table(), scope: scope)
    } } }
}

@Suite("RouteDecision")
struct RouteDecisionTests {
    @Test func forwardsByAuthorityThenHost() {
        #expect(decide(authority: "webapp") == .forward(service: 0))
        #expect(decide(authority: nil, host: "internal.production:8080") == .forward(service: 1))
    }

    @Test func hostMustAgreeWithAuthority() {
        #expect(decide(authority: "webapp", host: "WEBAPP") == .forward(service: 0))
        #expect(decide(authority: "webapp", host: "internal") == .reject(.authorityMismatch))
        #expect(decide(authority: "webapp:80", host: "webapp") == .reject(.authorityMismatch))
    }

    @Test func connectIsRefusedOnBothRoles() {
        #expect(decide(method: "CONNECT", authority: "webapp:443") == .reject(.methodNotAllowed))
        #expect(decide(method: "CONNECT", authority: "webapp:443", scope: .exportedOnly) == .reject(.methodNotAllowed))
        #expect(decide(method: "CONNECTX", authority: "webapp") == .forward(service: 0))
    }

    @Test func missingAuthorityAndUnknownNames() {
        #expect(decide(authority: nil) == .reject(.missingAuthority))
        #expect(decide(authority: "nothing") == .reject(.noRoute))
    }

    @Test func gatewaySeesExportedServicesOnly() {
        #expect(decide(authority: "webapp.production", scope: .exportedOnly) == .forward(service: 0))
        #expect(decide(authority: "internal.production", scope: .exportedOnly) == .reject(.notExported))
        #expect(decide(authority: "nothing", scope: .exportedOnly) == .reject(.notExported))
    }
}
