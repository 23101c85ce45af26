import Testing
import CausewayMesh

private let parent = ServiceKey(namespace: "production", name: "webapp")

private func route(_ name: String, _ rules: [RouteRule], namespace: String = "production") -> HTTPRoutePolicy {
    HTTPRoutePolicy(name: name, namespace: namespace, parents: [parent], rules: rules)
}

private func rule(_ matches: RouteMatch...) -> RouteRule {
    RouteRule(matches: matches, backends: [RouteBackend(service: parent, port: nil, weight: 1)])
}

/// What `routes` select for a request, as `namespace/name#rule`, or nil; `headers` keys lowercase.
private func select(_ routes: CompiledRoutes, _ method: String, _ path: String, headers: [String: String] = [:]) -> String? {
    let hit = withBytes(method, path) { m, p in routes.match(method: m, path: p, header: { headers[$0] }) }
    guard let hit else { return nil }
    return "\(routes.routes[hit.route].id)#\(hit.rule)"
}

private func select(_ routes: [HTTPRoutePolicy], _ method: String, _ path: String, headers: [String: String] = [:]) -> String? {
    select(CompiledRoutes(routes), method, path, headers: headers)
}

/// A GET.
private func select(_ routes: CompiledRoutes, _ path: String, headers: [String: String] = [:]) -> String? {
    select(routes, "GET", path, headers: headers)
}

private func select(_ routes: [HTTPRoutePolicy], _ path: String, headers: [String: String] = [:]) -> String? {
    select(CompiledRoutes(routes), "GET", path, headers: headers)
}

@Suite("RouteMatcher")
struct RouteMatcherTests {
    @Test("no routes, or routes without rules, match nothing")
    func empty() {
        #expect(select([], "/") == nil)
        let ruleless = CompiledRoutes([route("r", [])])
        #expect(ruleless.isEmpty)
        #expect(select(ruleless, "/") == nil)
        #expect(!CompiledRoutes([route("r", [rule()])]).isEmpty)
    }

    @Test("a rule without matches is PathPrefix / and takes every request", arguments: ["/", "/x", "/a/b?c=d", "*", ""])
    func ruleWithoutMatches(path: String) {
        #expect(select([route("r", [rule()])], "POST", path) == "production/r#0")
    }

    @Test("PathPrefix matches on segment boundaries", arguments: [
        ("/api", true), ("/api/", true), ("/api/x", true), ("/api/x/y", true), ("/api?q", true), ("/api?q=/x", true),
        ("/apix", false), ("/ap", false), ("/", false), ("/API", false), ("/v1/api", false), ("", false),
    ])
    func prefixBoundaries(path: String, matches: Bool) {
        for prefix in ["/api", "/api/"] {
            let routes = [route("r", [rule(RouteMatch(path: .prefix(prefix)))])]
            #expect((select(routes, path) != nil) == matches, "prefix \(prefix), path \(path)")
        }
    }

    @Test("PathPrefix / matches every path", arguments: ["/", "/a", "/a/b", "/?x", "*"])
    func rootPrefix(path: String) {
        #expect(select([route("r", [rule(RouteMatch(path: .prefix("/")))])], path) == "production/r#0")
    }

    @Test("Exact compares the whole path before the query", arguments: [
        ("/login", true), ("/login?next=/x", true), ("/login/", false), ("/login/x", false), ("/logi", false), ("/Login", false),
    ])
    func exact(path: String, matches: Bool) {
        let routes = [route("r", [rule(RouteMatch(path: .exact("/login")))])]
        #expect((select(routes, path) != nil) == matches)
    }

    @Test("Exact beats any prefix, even a longer one in an earlier route")
    func exactBeforePrefix() {
        let routes = [
            route("a", [rule(RouteMatch(path: .prefix("/api/v1/users")))]),
            route("b", [rule(RouteMatch(path: .exact("/api/v1/users")))]),
        ]
        #expect(select(routes, "/api/v1/users") == "production/b#0")
        #expect(select(routes, "/api/v1/users/7") == "production/a#0")
    }

    @Test("the longest prefix wins whatever the rule order")
    func longestPrefix() {
        let routes = [route("r", [
            rule(RouteMatch(path: .prefix("/"))),
            rule(RouteMatch(path: .prefix("/api"))),
            rule(RouteMatch(path: .prefix("/api/v2/"))),
        ])]
        #expect(select(routes, "/api/v2/x") == "production/r#2")
        #expect(select(routes, "/api/v2") == "production/r#2")
        #expect(select(routes, "/api/v1") == "production/r#1")
        #expect(select(routes, "/other") == "production/r#0")
    }

    @Test("a longer prefix beats a method or header match on a shorter one")
    func prefixLengthBeforeMethodAndHeaders() {
        let routes = [route("r", [
            rule(RouteMatch(path: .prefix("/a"), headers: [NameValue(name: "x", value: "1")], method: "GET")),
            rule(RouteMatch(path: .prefix("/a/b"))),
        ])]
        #expect(select(routes, "/a/b", headers: ["x": "1"]) == "production/r#1")
    }

    @Test("a match with a method comes before one without")
    func methodFirst() {
        let routes = [route("r", [
            rule(RouteMatch(path: .prefix("/"), headers: [NameValue(name: "x", value: "1")])),
            rule(RouteMatch(path: .prefix("/"), method: "POST")),
        ])]
        #expect(select(routes, "POST", "/", headers: ["x": "1"]) == "production/r#1")
        #expect(select(routes, "GET", "/", headers: ["x": "1"]) == "production/r#0")
        #expect(select(routes, "GET", "/") == nil)
        #expect(select(routes, "post", "/") == nil, "methods compare exactly")
    }

    @Test("more header matches come first, then more query matches")
    func headersThenQuery() {
        let routes = [route("r", [
            rule(RouteMatch(queryParams: [NameValue(name: "a", value: "1"), NameValue(name: "b", value: "2")])),
            rule(RouteMatch(headers: [NameValue(name: "x", value: "1")])),
            rule(RouteMatch(headers: [NameValue(name: "x", value: "1"), NameValue(name: "y", value: "2")])),
            rule(RouteMatch(queryParams: [NameValue(name: "a", value: "1")])),
        ])]
        #expect(select(routes, "/?a=1&b=2", headers: ["x": "1", "y": "2"]) == "production/r#2")
        #expect(select(routes, "/?a=1&b=2", headers: ["x": "1"]) == "production/r#1")
        #expect(select(routes, "/?a=1&b=2") == "production/r#0")
        #expect(select(routes, "/?a=1") == "production/r#3")
        #expect(select(routes, "/") == nil)
    }

    @Test("header names are looked up lowercase, values compare exactly")
    func headerCase() {
        let routes = [route("r", [rule(RouteMatch(headers: [NameValue(name: "X-Canary", value: "Yes")]))])]
        #expect(select(routes, "/", headers: ["x-canary": "Yes"]) == "production/r#0")
        #expect(select(routes, "/", headers: ["x-canary": "yes"]) == nil)
        #expect(select(routes, "/", headers: ["x-canary": "Yes "]) == nil)
        #expect(select(routes, "/", headers: ["x-other": "Yes"]) == nil)
    }

    @Test("every header and query param of a match must hold")
    func allParts() {
        let routes = [route("r", [rule(RouteMatch(
            path: .prefix("/a"), headers: [NameValue(name: "h", value: "1"), NameValue(name: "i", value: "2")],
            method: "PUT", queryParams: [NameValue(name: "q", value: "3")]))])]
        #expect(select(routes, "PUT", "/a?q=3", headers: ["h": "1", "i": "2"]) == "production/r#0")
        #expect(select(routes, "GET", "/a?q=3", headers: ["h": "1", "i": "2"]) == nil)
        #expect(select(routes, "PUT", "/b?q=3", headers: ["h": "1", "i": "2"]) == nil)
        #expect(select(routes, "PUT", "/a?q=4", headers: ["h": "1", "i": "2"]) == nil)
        #expect(select(routes, "PUT", "/a?q=3", headers: ["h": "1"]) == nil)
    }

    @Test("query params: exact name and value, first occurrence, no percent-decoding", arguments: [
        ("/s?v=a%20b", true), ("/s?x=1&v=a%20b", true), ("/s?v=a%20b&v=c", true),
        ("/s?v=c&v=a%20b", false), ("/s?v=a b", false), ("/s?v=a+b", false), ("/s?V=a%20b", false),
        ("/s?vv=a%20b", false), ("/s?v=a%20bc", false), ("/s?v", false), ("/s", false), ("/s?&&v=a%20b&", true),
        ("/s?=a%20b", false),
    ])
    func query(path: String, matches: Bool) {
        let routes = [route("r", [rule(RouteMatch(queryParams: [NameValue(name: "v", value: "a%20b")]))])]
        #expect((select(routes, path) != nil) == matches)
    }

    @Test("a query param without = has the empty value")
    func queryFlag() {
        let routes = [route("r", [rule(RouteMatch(queryParams: [NameValue(name: "debug", value: "")]))])]
        #expect(select(routes, "/?debug") != nil)
        #expect(select(routes, "/?debug=") != nil)
        #expect(select(routes, "/?debug=1") == nil)
    }

    @Test("ties go to routes by namespace then name, whatever the input order")
    func routeTieBreak() {
        let input = [
            route("zeta", [rule()]),
            route("alpha", [rule()]),
            route("zeta", [rule()], namespace: "finance"),
        ]
        let compiled = CompiledRoutes(input)
        #expect(compiled.routes.map(\.id) == ["finance/zeta", "production/alpha", "production/zeta"])
        #expect(select(compiled, "/x") == "finance/zeta#0")
        #expect(select(CompiledRoutes(input.reversed()), "/x") == "finance/zeta#0")
    }

    @Test("then rule order, then match order")
    func ruleAndMatchOrder() {
        let routes = [route("r", [
            rule(RouteMatch(path: .prefix("/x")), RouteMatch(path: .prefix("/a"))),
            rule(RouteMatch(path: .prefix("/a")), RouteMatch(path: .prefix("/x"))),
        ])]
        #expect(select(routes, "/a") == "production/r#0")
        #expect(select(routes, "/x") == "production/r#0")
    }

    @Test("any match of a rule selects it, and precedence spans routes")
    func acrossRoutes() {
        let routes = [
            route("a", [rule(RouteMatch(path: .prefix("/"))), rule(RouteMatch(path: .prefix("/shop")))]),
            route("b", [rule(RouteMatch(path: .prefix("/shop"), method: "GET"), RouteMatch(path: .exact("/")))]),
        ]
        #expect(select(routes, "GET", "/shop/1") == "production/b#0")
        #expect(select(routes, "POST", "/shop/1") == "production/a#1")
        #expect(select(routes, "POST", "/") == "production/b#0")
        #expect(select(routes, "POST", "/other") == "production/a#0")
    }

    @Test("headers are only read once path and method match")
    func lazyHeaders() {
        let compiled = CompiledRoutes([route("r", [
            rule(RouteMatch(path: .prefix("/a"), headers: [NameValue(name: "h", value: "1")])),
            rule(RouteMatch(path: .prefix("/"))),
        ])])
        var lookups = 0
        let hit = withBytes("GET", "/b") { m, p in
            compiled.match(method: m, path: p, header: { _ in lookups += 1; return nil })
        }
        #expect(hit?.rule == 1)
        #expect(lookups == 0)
    }

    @Test("empty buffers without a base address are an empty method and path")
    func nilBuffers() {
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        let compiled = CompiledRoutes([route("r", [
            rule(RouteMatch(path: .prefix("/"), method: "GET")),
            rule(RouteMatch(path: .exact("/x"), queryParams: [NameValue(name: "a", value: "")])),
            rule(RouteMatch(path: .prefix("/"))),
        ])])
        #expect(compiled.match(method: none, path: none, header: { _ in nil })?.rule == 2)
    }
}
