import Testing
import CausewayMesh

private let webapp = ServiceKey(namespace: "production", name: "webapp")
private let frontend = "spiffe://mesh.local/ns/production/sa/frontend"
private let batch = "spiffe://mesh.local/ns/jobs/sa/batch"
private let foreign = "spiffe://other.example/ns/production/sa/frontend"

private func policy(_ name: String, _ action: AuthorizationPolicyRule.Action, namespace: String = "production",
                    _ rules: [AuthorizationRule]) -> AuthorizationPolicyRule {
    AuthorizationPolicyRule(name: name, namespace: namespace, targets: [webapp], action: action, rules: rules)
}

private func from(principals: [String] = [], namespaces: [String] = []) -> AuthorizationSource {
    AuthorizationSource(principals: principals, namespaces: namespaces)
}

private func to(methods: [String] = [], paths: [String] = []) -> AuthorizationOperation {
    AuthorizationOperation(methods: methods, paths: paths)
}

private func evaluate(_ policies: [AuthorizationPolicyRule], _ principal: String?, _ method: String = "GET", _ path: String = "/") -> Authorizer.Verdict {
    let authorizer = Authorizer(policies: policies)
    return withBytes(method, path) { m, p in authorizer.evaluate(principal: principal, method: m, path: p) }
}

private let allowed = Authorizer.Verdict.allowed
private func denied(_ id: String) -> Authorizer.Verdict { .denied(policy: id) }

@Suite("Authorizer")
struct AuthorizerTests {
    @Test("a pattern with a star at both ends matches what contains its middle")
    func infix() {
        let allowBatch = [policy("batch", .allow, [AuthorizationRule(from: [from(principals: ["*/sa/batch*"])], to: [])])]
        #expect(evaluate(allowBatch, batch) == allowed)
        #expect(evaluate(allowBatch, "spiffe://mesh.local/ns/x/sa/batch-nightly") == allowed)
        #expect(evaluate(allowBatch, frontend) == denied("production/batch"))
        let paths = [policy("paths", .allow, [AuthorizationRule(from: [], to: [to(paths: ["*/admin/*"])])])]
        #expect(evaluate(paths, frontend, "GET", "/v1/admin/users") == allowed)
        #expect(evaluate(paths, frontend, "GET", "/v1/users") == denied("production/paths"))
    }

    @Test("no policy: everything allowed")
    func empty() {
        let authorizer = Authorizer(policies: [])
        #expect(authorizer.isEmpty)
        #expect(evaluate([], nil, "DELETE", "/admin") == allowed)
        #expect(!Authorizer(policies: [policy("p", .allow, [])]).isEmpty)
        #expect(!Authorizer(policies: [policy("p", .deny, [])]).isEmpty)
    }

    @Test("a matching DENY wins over any ALLOW; the first matching DENY by id is reported")
    func denyPrecedence() {
        let policies = [
            policy("allow-all", .allow, [AuthorizationRule(from: [], to: [])]),
            policy("z-deny", .deny, [AuthorizationRule(from: [], to: [to(paths: ["/admin*"])])]),
            policy("a-deny", .deny, namespace: "production", [AuthorizationRule(from: [from(namespaces: ["jobs"])], to: [])]),
            policy("b-deny", .deny, namespace: "production", [AuthorizationRule(from: [from(namespaces: ["jobs"])], to: [])]),
        ]
        #expect(evaluate(policies, frontend, "GET", "/admin/users") == denied("production/z-deny"))
        #expect(evaluate(policies, batch, "GET", "/admin/users") == denied("production/a-deny"))
        #expect(evaluate(policies, batch, "GET", "/") == denied("production/a-deny"))
        #expect(evaluate(policies, frontend, "GET", "/") == allowed)
        #expect(evaluate(policies.reversed(), batch, "GET", "/") == denied("production/a-deny"), "order of input does not matter")
    }

    @Test("with ALLOW policies, a request must match one; otherwise the first ALLOW by id is reported")
    func allowList() {
        let policies = [
            policy("writers", .allow, [AuthorizationRule(from: [from(principals: ["mesh.local/ns/jobs/sa/batch"])], to: [to(methods: ["POST"])])]),
            policy("readers", .allow, namespace: "finance", [AuthorizationRule(from: [from(namespaces: ["production"])], to: [to(methods: ["GET", "HEAD"])])]),
        ]
        #expect(evaluate(policies, frontend, "GET") == allowed)
        #expect(evaluate(policies, frontend, "HEAD") == allowed)
        #expect(evaluate(policies, frontend, "POST") == denied("finance/readers"))
        #expect(evaluate(policies, batch, "POST") == allowed)
        #expect(evaluate(policies, batch, "GET") == denied("finance/readers"))
        #expect(evaluate(policies, nil, "GET") == denied("finance/readers"))
    }

    @Test("a policy without rules matches nothing: ALLOW denies all, DENY denies none")
    func noRules() {
        #expect(evaluate([policy("nothing", .allow, [])], frontend) == denied("production/nothing"))
        #expect(evaluate([policy("nothing", .deny, [])], frontend) == allowed)
        #expect(evaluate([policy("nothing", .deny, []), policy("all", .allow, [AuthorizationRule(from: [], to: [])])], nil) == allowed)
    }

    @Test("a rule with neither from nor to matches every request, unknown callers included")
    func emptyRule() {
        let everything = [AuthorizationRule(from: [], to: [])]
        #expect(evaluate([policy("deny-all", .deny, everything)], nil) == denied("production/deny-all"))
        #expect(evaluate([policy("allow-all", .allow, everything)], nil, "PATCH", "/x") == allowed)
    }

    @Test("principal patterns against the SPIFFE ID without the scheme", arguments: [
        ("mesh.local/ns/production/sa/frontend", frontend, true),
        ("spiffe://mesh.local/ns/production/sa/frontend", frontend, false),
        ("mesh.local/ns/production/sa/front", frontend, false),
        ("*", frontend, true),
        ("*", batch, true),
        ("mesh.local/ns/production/*", frontend, true),
        ("mesh.local/ns/production/*", batch, false),
        ("mesh.local/*", foreign, false),
        ("*/sa/frontend", frontend, true),
        ("*/sa/frontend", foreign, true),
        ("*/sa/batch", frontend, false),
        ("mesh.local/ns/production/sa/frontend", "mesh.local/ns/production/sa/frontend", true),
        ("*", nil, false),
        ("mesh.local/ns/production/sa/frontend", nil, false),
        ("*", "", false),
    ] as [(String, String?, Bool)])
    func principals(pattern: String, principal: String?, matches: Bool) {
        let policies = [policy("p", .deny, [AuthorizationRule(from: [from(principals: [pattern])], to: [])])]
        #expect(evaluate(policies, principal) == (matches ? denied("production/p") : allowed))
    }

    @Test("namespace patterns against the ns segment of the SPIFFE ID", arguments: [
        ("production", frontend, true),
        ("production", batch, false),
        ("prod*", frontend, true),
        ("*tion", frontend, true),
        ("*", batch, true),
        ("jobs", batch, true),
        ("production", "spiffe://mesh.local/sa/frontend", false),
        ("*", "spiffe://mesh.local/sa/frontend", false),
        ("production", "spiffe://mesh.local/x/ns/production/sa/a", false),
        ("production", "spiffe://mesh.local/ns/production", true),
        ("*", "spiffe://mesh.local/ns//sa/a", false),
        ("production", nil, false),
        ("*", nil, false),
    ] as [(String, String?, Bool)])
    func namespaces(pattern: String, principal: String?, matches: Bool) {
        let policies = [policy("p", .deny, [AuthorizationRule(from: [from(namespaces: [pattern])], to: [])])]
        #expect(evaluate(policies, principal) == (matches ? denied("production/p") : allowed))
    }

    @Test("a source needs a match in each of its non-empty lists; any source of a rule will do")
    func sources() {
        let both = [policy("p", .allow, [AuthorizationRule(from: [from(principals: ["*/sa/frontend"], namespaces: ["production"])], to: [])])]
        #expect(evaluate(both, frontend) == allowed)
        #expect(evaluate(both, "spiffe://mesh.local/ns/staging/sa/frontend") == denied("production/p"))
        #expect(evaluate(both, "spiffe://mesh.local/ns/production/sa/other") == denied("production/p"))

        let either = [policy("p", .allow, [AuthorizationRule(from: [from(namespaces: ["jobs"]), from(principals: ["*frontend"])], to: [])])]
        #expect(evaluate(either, frontend) == allowed)
        #expect(evaluate(either, batch) == allowed)
        #expect(evaluate(either, "spiffe://mesh.local/ns/production/sa/other") == denied("production/p"))

        // A source with no lists matches anyone, even an unknown caller.
        #expect(evaluate([policy("p", .allow, [AuthorizationRule(from: [from()], to: [])])], nil) == allowed)
    }

    @Test("operations: methods exact, paths by pattern without the query", arguments: [
        ("GET", "/api/items", true), ("GET", "/api/items?x=1", true), ("get", "/api/items", false),
        ("POST", "/api/items", false), ("HEAD", "/api/items", false),
        ("GET", "/api", false), ("GET", "/api/", true), ("GET", "/health", true), ("GET", "/health?full", true),
        ("GET", "/healthz", false), ("GET", "/x.json", true), ("GET", "/x.json?a=b", true), ("GET", "/x.jsonp", false),
        ("GET", "/other", false), ("GET", "", false),
    ])
    func operations(method: String, path: String, matches: Bool) {
        let policies = [policy("p", .allow, [AuthorizationRule(from: [], to: [to(methods: ["GET"], paths: ["/api/*", "/health", "*.json"])])])]
        #expect(evaluate(policies, frontend, method, path) == (matches ? allowed : denied("production/p")))
    }

    @Test("an operation needs every non-empty list; any operation of a rule will do; from and to must both hold")
    func operationLists() {
        let policies = [policy("p", .allow, [
            AuthorizationRule(from: [from(namespaces: ["production"])], to: [to(methods: ["POST"]), to(paths: ["/public*"])]),
        ])]
        #expect(evaluate(policies, frontend, "POST", "/anything") == allowed)
        #expect(evaluate(policies, frontend, "GET", "/public/x") == allowed)
        #expect(evaluate(policies, frontend, "GET", "/private") == denied("production/p"))
        #expect(evaluate(policies, batch, "POST", "/anything") == denied("production/p"))
        #expect(evaluate(policies, nil, "GET", "/public/x") == denied("production/p"))

        let anyPath = [policy("p", .deny, [AuthorizationRule(from: [], to: [to(paths: ["*"])])])]
        #expect(evaluate(anyPath, nil, "GET", "/") == denied("production/p"))
        #expect(evaluate(anyPath, nil, "GET", "") == denied("production/p"), "`*` matches the empty path")
    }

    @Test("unknown callers: DENY by identity does not apply, ALLOW by identity does not admit")
    func unknownPrincipal() {
        let policies = [
            policy("deny-jobs", .deny, [AuthorizationRule(from: [from(namespaces: ["*"])], to: [to(paths: ["/admin*"])])]),
            policy("allow-paths", .allow, [AuthorizationRule(from: [], to: [to(paths: ["/public*", "/admin*"])])]),
            policy("allow-ids", .allow, [AuthorizationRule(from: [from(principals: ["*"])], to: [])]),
        ]
        #expect(evaluate(policies, nil, "GET", "/admin") == allowed, "by path, not by identity")
        #expect(evaluate(policies, frontend, "GET", "/admin") == denied("production/deny-jobs"))
        #expect(evaluate(policies, nil, "GET", "/private") == denied("production/allow-ids"))
        #expect(evaluate(policies, frontend, "GET", "/private") == allowed)
    }

    @Test("the truth table of actions", arguments: [
        // (deny matches, allow exists, allow matches) → verdict
        (false, false, false, allowed),
        (true, false, false, denied("production/d")),
        (false, true, false, denied("production/a")),
        (false, true, true, allowed),
        (true, true, true, denied("production/d")),
        (true, true, false, denied("production/d")),
    ])
    func actions(denyMatches: Bool, allowExists: Bool, allowMatches: Bool, verdict: Authorizer.Verdict) {
        let hit = [AuthorizationRule(from: [], to: [to(paths: ["/hit"])])]
        let miss = [AuthorizationRule(from: [], to: [to(paths: ["/miss"])])]
        var policies = [policy("d", .deny, denyMatches ? hit : miss)]
        if allowExists { policies.append(policy("a", .allow, allowMatches ? hit : miss)) }
        #expect(evaluate(policies, frontend, "GET", "/hit") == verdict)
    }

    @Test("empty buffers without a base address are an empty method and path")
    func nilBuffers() {
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        let authorizer = Authorizer(policies: [
            policy("deny-empty", .deny, [AuthorizationRule(from: [], to: [to(paths: ["/*"])])]),
            policy("allow-get", .allow, [AuthorizationRule(from: [], to: [to(methods: ["GET"])])]),
        ])
        #expect(authorizer.evaluate(principal: frontend, method: none, path: none) == denied("production/allow-get"))
    }
}
