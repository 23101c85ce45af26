import Testing
@testable import CausewayApp

// Line numbers in these cases are those documented on `routeYAML`, `destinationRuleYAML`
// and `authorizationPolicyYAML`; the documents sit in `mesh/` beside `meshProxyYAML()`.

/// A valid HTTPRoute of fifteen lines; `extra` from line 16 (four spaces continue the first
/// rule, two add `spec` fields).
///
///     1  apiVersion: gateway.networking.k8s.io/v1
///     2  kind: HTTPRoute
///     3  metadata:
///     4    name: webapp-canary
///     5    namespace: production
///     6  spec:
///     7    parentRefs:
///     8    - kind: Service
///     9      name: webapp
///     10   rules:
///     11   - matches:
///     12     - path: { type: PathPrefix, value: /api }
///     13     backendRefs:
///     14     - name: webapp-cluster2
///     15       port: 8080
func routeYAML(_ extra: String = "") -> String {
    """
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata:
      name: webapp-canary
      namespace: production
    spec:
      parentRefs:
      - kind: Service
        name: webapp
      rules:
      - matches:
        - path: { type: PathPrefix, value: /api }
        backendRefs:
        - name: webapp-cluster2
          port: 8080

    """ + extra
}

/// A valid DestinationRule of eleven lines; `extra` from line 12 (four spaces are
/// `trafficPolicy` fields, two `spec` fields).
///
///     1  apiVersion: networking.istio.io/v1
///     2  kind: DestinationRule
///     3  metadata:
///     4    name: webapp
///     5    namespace: production
///     6  spec:
///     7    host: webapp
///     8    trafficPolicy:
///     9      connectionPool:
///     10       tcp: { maxConnections: 100 }
///     11     loadBalancer: { simple: ROUND_ROBIN }
func destinationRuleYAML(_ extra: String = "") -> String {
    """
    apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata:
      name: webapp
      namespace: production
    spec:
      host: webapp
      trafficPolicy:
        connectionPool:
          tcp: { maxConnections: 100 }
        loadBalancer: { simple: ROUND_ROBIN }

    """ + extra
}

/// A valid AuthorizationPolicy of thirteen lines; `extra` from line 14 (two spaces are `spec`
/// fields).
///
///     1  apiVersion: security.istio.io/v1
///     2  kind: AuthorizationPolicy
///     3  metadata:
///     4    name: webapp-callers
///     5    namespace: production
///     6  spec:
///     7    targetRefs:
///     8    - { kind: Service, name: webapp }
///     9    rules:
///     10   - from:
///     11     - source: { principals: [ "mesh.local/ns/production/sa/frontend" ] }
///     12     to:
///     13     - operation: { methods: [ GET ], paths: [ "/api/*" ] }
func authorizationPolicyYAML(_ extra: String = "") -> String {
    """
    apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata:
      name: webapp-callers
      namespace: production
    spec:
      targetRefs:
      - { kind: Service, name: webapp }
      rules:
      - from:
        - source: { principals: [ "mesh.local/ns/production/sa/frontend" ] }
        to:
        - operation: { methods: [ GET ], paths: [ "/api/*" ] }

    """ + extra
}

/// `mesh/route.yaml` = `routeYAML()` with `old` replaced by `new`.
private func route(_ old: String, _ new: String) -> [String: String] {
    meshFiles(["mesh/route.yaml": replacing(routeYAML(), old, new)])
}

private func route(extra: String) -> [String: String] {
    meshFiles(["mesh/route.yaml": routeYAML(extra)])
}

private func rule(_ old: String, _ new: String) -> [String: String] {
    meshFiles(["mesh/rule.yaml": replacing(destinationRuleYAML(), old, new)])
}

private func rule(extra: String) -> [String: String] {
    meshFiles(["mesh/rule.yaml": destinationRuleYAML(extra)])
}

private func policy(_ old: String, _ new: String) -> [String: String] {
    meshFiles(["mesh/policy.yaml": replacing(authorizationPolicyYAML(), old, new)])
}

private func policy(extra: String) -> [String: String] {
    meshFiles(["mesh/policy.yaml": authorizationPolicyYAML(extra)])
}

private let serviceName = "must be a DNS label starting with a letter: at most 63 lowercase letters, digits and '-'"
private let dnsLabel = "must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
private let parentLines = "  - kind: Service\n    name: webapp"
private let pathLine = "    - path: { type: PathPrefix, value: /api }"
private let backendLines = "    - name: webapp-cluster2\n      port: 8080"
private let hostLine = "  host: webapp"
private let tcpLine = "      tcp: { maxConnections: 100 }"
private let balancerLine = "    loadBalancer: { simple: ROUND_ROBIN }"
private let targetLine = "  - { kind: Service, name: webapp }"
private let sourceLine = "    - source: { principals: [ \"mesh.local/ns/production/sa/frontend\" ] }"
private let operationLine = "    - operation: { methods: [ GET ], paths: [ \"/api/*\" ] }"

/// `n` list entries in flow style, `{ name: x-1, value: "" }`-like, from `make(i)`.
private func flowList(_ n: Int, _ make: (Int) -> String) -> String {
    "[ " + (1...n).map(make).joined(separator: ", ") + " ]"
}

@Suite("HTTPRoute, DestinationRule and AuthorizationPolicy validation")
struct PolicyValidationTests {
    static let routeCases: [ErrorCase] = [
        // parentRefs
        ErrorCase("parentRefs missing", route("  parentRefs:\n" + parentLines + "\n", ""),
                  ["mesh/route.yaml:7:3: spec.parentRefs: required field is missing"]),
        ErrorCase("parentRefs empty", route("  parentRefs:\n" + parentLines, "  parentRefs: []"),
                  ["mesh/route.yaml:7:15: spec.parentRefs: must not be empty: name the Service this route applies to, e.g. { kind: Service, name: webapp }"]),
        ErrorCase("33 parentRefs", route("  parentRefs:\n" + parentLines, "  parentRefs: " + flowList(33) { "{ kind: Service, name: s\($0) }" }),
                  ["mesh/route.yaml:7:15: spec.parentRefs: has 33 parentRefs; at most 32 are allowed"]),
        ErrorCase("parent kind missing (the Gateway API default is Gateway)", route(parentLines, "  - name: webapp"),
                  ["mesh/route.yaml:8:5: spec.parentRefs[0].kind: required field is missing: the Gateway API's default kind is Gateway, which Causeway does not serve; write kind: Service for a mesh route"]),
        ErrorCase("parent kind Gateway", route(parentLines, "  - kind: Gateway\n    name: webapp"),
                  ["mesh/route.yaml:8:11: spec.parentRefs[0].kind: kind Gateway is not supported: Causeway is a mesh proxy, and a mesh route attaches to a Service (kind: Service)"]),
        ErrorCase("parent group not core", route(parentLines, parentLines + "\n    group: gateway.networking.k8s.io"),
                  ["mesh/route.yaml:10:12: spec.parentRefs[0].group: must be \"\" (the core API group, where Service is), got \"gateway.networking.k8s.io\""]),
        ErrorCase("parent in another namespace", route(parentLines, parentLines + "\n    namespace: staging"),
                  ["mesh/route.yaml:10:16: spec.parentRefs[0].namespace: \"staging\" is not this HTTPRoute's namespace \"production\"; references to other namespaces are not supported (put the HTTPRoute in staging, or leave namespace out)"]),
        ErrorCase("parent in its own namespace, written out", route(parentLines, parentLines + "\n    namespace: production\n    port: 0"),
                  ["mesh/route.yaml:11:11: spec.parentRefs[0].port: 0 is out of range: must be between 1 and 65535"]),
        ErrorCase("parent name not a Service name", route("    name: webapp", "    name: Webapp"),
                  ["mesh/route.yaml:9:11: spec.parentRefs[0].name: \"Webapp\" \(serviceName)"]),
        ErrorCase("parent listed twice", route(parentLines, parentLines + "\n" + parentLines),
                  ["mesh/route.yaml:10:5: spec.parentRefs[1]: this parent is already listed at spec.parentRefs[0]"]),
        ErrorCase("parent sectionName", route(parentLines, parentLines + "\n    sectionName: http"),
                  ["mesh/route.yaml:10:5: spec.parentRefs[0].sectionName: not supported: a route applies to every port of its Service; remove the field"]),
        // spec
        ErrorCase("hostnames", route(extra: "  hostnames: [ webapp.example.com ]\n"),
                  ["mesh/route.yaml:16:3: spec.hostnames: not supported: a route attached to a Service (the mesh form) applies to every name of that Service, so it takes no hostnames; remove the field"]),
        ErrorCase("rules missing", meshFiles(["mesh/route.yaml": routeYAML().split(separator: "\n").prefix(9).joined(separator: "\n") + "\n"]),
                  ["mesh/route.yaml:7:3: spec.rules: required field is missing"]),
        ErrorCase("rules empty", route("  rules:\n  - matches:\n" + pathLine + "\n    backendRefs:\n" + backendLines, "  rules: []"),
                  ["mesh/route.yaml:10:10: spec.rules: must not be empty: a route needs at least one rule"]),
        ErrorCase("17 rules", route("  rules:\n  - matches:\n" + pathLine + "\n    backendRefs:\n" + backendLines, "  rules: " + flowList(17) { _ in "{}" }),
                  ["mesh/route.yaml:10:10: spec.rules: has 17 rules; at most 16 are allowed"]),
        ErrorCase("status", route(extra: "status: {}\n"),
                  ["mesh/route.yaml:16:1: status: unknown field \"status\"; known fields: apiVersion, kind, metadata, spec"]),
        // rules
        ErrorCase("rule filters", route(extra: "    filters: [ { type: RequestHeaderModifier } ]\n"),
                  ["mesh/route.yaml:16:5: spec.rules[0].filters: not supported: filters (header changes, redirects, rewrites, mirroring) are not supported by this version; remove the field"]),
        ErrorCase("rule unknown field", route(extra: "    sessionPersistence: {}\n"),
                  ["mesh/route.yaml:16:5: spec.rules[0].sessionPersistence: unknown field \"sessionPersistence\"; known fields: matches, backendRefs, timeouts, retry, filters"]),
        ErrorCase("65 matches", route("  - matches:\n" + pathLine, "  - matches: " + flowList(65) { _ in "{}" }),
                  ["mesh/route.yaml:11:14: spec.rules[0].matches: has 65 matches; at most 64 are allowed"]),
        // matches
        ErrorCase("path RegularExpression", route(pathLine, "    - path: { type: RegularExpression, value: /api/.* }"),
                  ["mesh/route.yaml:12:21: spec.rules[0].matches[0].path.type: RegularExpression is not supported; use Exact or PathPrefix"]),
        ErrorCase("path type unknown", route(pathLine, "    - path: { type: Prefix, value: /api }"),
                  ["mesh/route.yaml:12:21: spec.rules[0].matches[0].path.type: unknown path match type \"Prefix\"; expected Exact or PathPrefix"]),
        ErrorCase("path without a leading slash", route(pathLine, "    - path: { type: Exact, value: api }"),
                  ["mesh/route.yaml:12:35: spec.rules[0].matches[0].path.value: \"api\" must start with /"]),
        ErrorCase("path with a query", route(pathLine, "    - path: { value: \"/api?v=2\" }"),
                  ["mesh/route.yaml:12:22: spec.rules[0].matches[0].path.value: \"/api?v=2\" holds \"?\": a path match compares the path alone, without query or fragment (match query parameters with queryParams)"]),
        ErrorCase("path with a fragment", route(pathLine, "    - path: { value: \"/api#top\" }"),
                  ["mesh/route.yaml:12:22: spec.rules[0].matches[0].path.value: \"/api#top\" holds \"#\": a path match compares the path alone, without query or fragment (match query parameters with queryParams)"]),
        ErrorCase("header RegularExpression", route(pathLine, "    - headers: [ { type: RegularExpression, name: x-canary, value: \"1\" } ]"),
                  ["mesh/route.yaml:12:26: spec.rules[0].matches[0].headers[0].type: RegularExpression is not supported; use Exact"]),
        ErrorCase("header name empty", route(pathLine, "    - headers: [ { name: \"\", value: \"1\" } ]"),
                  ["mesh/route.yaml:12:26: spec.rules[0].matches[0].headers[0].name: must not be empty"]),
        ErrorCase("header name not a token", route(pathLine, "    - headers: [ { name: \":authority\", value: webapp } ]"),
                  ["mesh/route.yaml:12:26: spec.rules[0].matches[0].headers[0].name: \":authority\" is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only; no pseudo-headers)"]),
        ErrorCase("header matched twice", route(pathLine, "    - headers: [ { name: X-Canary, value: \"1\" }, { name: x-canary, value: \"2\" } ]"),
                  ["mesh/route.yaml:12:58: spec.rules[0].matches[0].headers[1].name: header \"x-canary\" is already matched at spec.rules[0].matches[0].headers[0]; a request has one value to compare"]),
        ErrorCase("17 headers", route(pathLine, "    - headers: " + flowList(17) { "{ name: h\($0), value: v }" }),
                  ["mesh/route.yaml:12:16: spec.rules[0].matches[0].headers: has 17 header matches; at most 16 are allowed"]),
        ErrorCase("query parameter RegularExpression", route(pathLine, "    - queryParams: [ { type: RegularExpression, name: v, value: \"2\" } ]"),
                  ["mesh/route.yaml:12:30: spec.rules[0].matches[0].queryParams[0].type: RegularExpression is not supported; use Exact"]),
        ErrorCase("17 query parameters", route(pathLine, "    - queryParams: " + flowList(17) { "{ name: q\($0), value: v }" }),
                  ["mesh/route.yaml:12:20: spec.rules[0].matches[0].queryParams: has 17 query parameter matches; at most 16 are allowed"]),
        ErrorCase("method lowercase", route(pathLine, "    - method: get"),
                  ["mesh/route.yaml:12:15: spec.rules[0].matches[0].method: unknown method \"get\" (methods are uppercase: GET); expected one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH"]),
        ErrorCase("method unknown", route(pathLine, "    - method: PURGE"),
                  ["mesh/route.yaml:12:15: spec.rules[0].matches[0].method: unknown method \"PURGE\"; expected one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH"]),
        ErrorCase("match unknown field", route(pathLine, "    - paths: [ /api ]"),
                  ["mesh/route.yaml:12:7: spec.rules[0].matches[0].paths: unknown field \"paths\" (did you mean \"path\"?)"]),
        // backendRefs
        ErrorCase("17 backendRefs", route("    backendRefs:\n" + backendLines, "    backendRefs: " + flowList(17) { "{ name: b\($0) }" }),
                  ["mesh/route.yaml:13:18: spec.rules[0].backendRefs: has 17 backendRefs; at most 16 are allowed"]),
        ErrorCase("backend filters", route(backendLines, backendLines + "\n      filters: []"),
                  ["mesh/route.yaml:16:7: spec.rules[0].backendRefs[0].filters: not supported: filters (header changes, redirects, rewrites, mirroring) are not supported by this version; remove the field"]),
        ErrorCase("backend kind unknown", route(backendLines, backendLines + "\n      kind: Deployment"),
                  ["mesh/route.yaml:16:13: spec.rules[0].backendRefs[0].kind: kind Deployment is not supported: a backend is a Service, or the ServiceImport of a clusterset name (group: multicluster.x-k8s.io)"]),
        ErrorCase("backend ServiceImport without its group", route(backendLines, backendLines + "\n      kind: ServiceImport"),
                  ["mesh/route.yaml:14:7: spec.rules[0].backendRefs[0].group: required field is missing: a ServiceImport is in group multicluster.x-k8s.io"]),
        ErrorCase("backend ServiceImport in another group", route(backendLines, backendLines + "\n      kind: ServiceImport\n      group: \"\""),
                  ["mesh/route.yaml:17:14: spec.rules[0].backendRefs[0].group: must be multicluster.x-k8s.io for kind ServiceImport, got \"\""]),
        ErrorCase("backend Service in a group", route(backendLines, backendLines + "\n      group: apps"),
                  ["mesh/route.yaml:16:14: spec.rules[0].backendRefs[0].group: must be \"\" (the core API group, where Service is), got \"apps\""]),
        ErrorCase("backend in another namespace", route(backendLines, backendLines + "\n      namespace: staging"),
                  ["mesh/route.yaml:16:18: spec.rules[0].backendRefs[0].namespace: \"staging\" is not this HTTPRoute's namespace \"production\"; references to other namespaces are not supported (put the HTTPRoute in staging, or leave namespace out)"]),
        ErrorCase("backend name not a Service name", route("  - name: webapp-cluster2", "  - name: webapp.production"),
                  ["mesh/route.yaml:14:13: spec.rules[0].backendRefs[0].name: \"webapp.production\" \(serviceName)"]),
        ErrorCase("backend weight too large", route(backendLines, backendLines + "\n      weight: 1000001"),
                  ["mesh/route.yaml:16:15: spec.rules[0].backendRefs[0].weight: 1000001 is out of range: must be between 0 and 1000000"]),
        ErrorCase("backend weight negative", route(backendLines, backendLines + "\n      weight: -1"),
                  ["mesh/route.yaml:16:15: spec.rules[0].backendRefs[0].weight: -1 is out of range: must be between 0 and 1000000"]),
        ErrorCase("backend port too large", route("    port: 8080", "    port: 80800"),
                  ["mesh/route.yaml:15:13: spec.rules[0].backendRefs[0].port: 80800 is out of range: must be between 1 and 65535"]),
        // timeouts
        ErrorCase("timeout with a fraction", route(extra: "    timeouts: { request: 1.5s }\n"),
                  ["mesh/route.yaml:16:26: spec.rules[0].timeouts.request: \"1.5s\" is not a duration such as 10s, 500ms, 1h or 1m30s (no fractions: write 1500ms)"]),
        ErrorCase("timeout without a unit", route(extra: "    timeouts: { request: \"10\" }\n"),
                  ["mesh/route.yaml:16:26: spec.rules[0].timeouts.request: \"10\" is not a duration such as 10s, 500ms, 1h or 1m30s"]),
        ErrorCase("timeout over 24h", route(extra: "    timeouts: { request: 24h1ms }\n"),
                  ["mesh/route.yaml:16:26: spec.rules[0].timeouts.request: 24h1ms is out of range: must be 0s (none) or between 1ms and 24h"]),
        ErrorCase("backendRequest longer than request", route(extra: "    timeouts: { request: 2s, backendRequest: 2s1ms }\n"),
                  ["mesh/route.yaml:16:46: spec.rules[0].timeouts.backendRequest: 2001ms is longer than request 2s; one attempt must fit in the whole request"]),
        ErrorCase("timeouts unknown field", route(extra: "    timeouts: { idle: 1s }\n"),
                  ["mesh/route.yaml:16:17: spec.rules[0].timeouts.idle: unknown field \"idle\"; known fields: request, backendRequest"]),
        // retry
        ErrorCase("retry attempts over 10", route(extra: "    retry: { attempts: 11 }\n"),
                  ["mesh/route.yaml:16:24: spec.rules[0].retry.attempts: 11 is out of range: must be between 0 and 10"]),
        ErrorCase("retry code not 5xx", route(extra: "    retry: { codes: [ 503, 404 ] }\n"),
                  ["mesh/route.yaml:16:28: spec.rules[0].retry.codes[1]: 404 is out of range: must be between 500 and 599"]),
        ErrorCase("retry code twice", route(extra: "    retry: { codes: [ 503, 503 ] }\n"),
                  ["mesh/route.yaml:16:28: spec.rules[0].retry.codes[1]: 503 is already listed at spec.rules[0].retry.codes[0]"]),
        ErrorCase("retry backoff over 10s", route(extra: "    retry: { backoff: 11s }\n"),
                  ["mesh/route.yaml:16:23: spec.rules[0].retry.backoff: 11s is out of range: must be between 1ms and 10s"]),
        ErrorCase("retry backoff zero", route(extra: "    retry: { backoff: 0s }\n"),
                  ["mesh/route.yaml:16:23: spec.rules[0].retry.backoff: 0s is out of range: must be between 1ms and 10s"]),
        // documents
        ErrorCase("HTTPRoute defined twice", meshFiles(["mesh/a.yaml": routeYAML(), "mesh/b.yaml": routeYAML()]),
                  ["mesh/b.yaml:4:9: metadata.name: HTTPRoute production/webapp-canary is defined twice; the first is at mesh/a.yaml:4:9"]),
        ErrorCase("HTTPRoute defined twice, the second broken",
                  meshFiles(["mesh/a.yaml": routeYAML(), "mesh/b.yaml": replacing(routeYAML(), "    port: 8080", "    port: 0")]),
                  ["mesh/b.yaml:4:9: metadata.name: HTTPRoute production/webapp-canary is defined twice; the first is at mesh/a.yaml:4:9",
                   "mesh/b.yaml:15:13: spec.rules[0].backendRefs[0].port: 0 is out of range: must be between 1 and 65535"]),
        ErrorCase("an invalid route namespace is not compared with references",
                  meshFiles(["mesh/route.yaml": replacing(replacing(routeYAML(), "  namespace: production", "  namespace: Production"),
                                                          parentLines, parentLines + "\n    namespace: staging")]),
                  ["mesh/route.yaml:5:14: metadata.namespace: \"Production\" \(dnsLabel)"]),
        ErrorCase("HTTPRoute apiVersion not served",
                  route("gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha2"),
                  ["mesh/route.yaml:1:13: apiVersion: apiVersion gateway.networking.k8s.io/v1alpha2 is not served for kind HTTPRoute; expected gateway.networking.k8s.io/v1 or gateway.networking.k8s.io/v1beta1"]),
    ]

    static let destinationRuleCases: [ErrorCase] = [
        ErrorCase("host missing", rule(hostLine + "\n", ""),
                  ["mesh/rule.yaml:7:3: spec.host: required field is missing"]),
        ErrorCase("host a wildcard", rule(hostLine, "  host: \"*.production.svc.cluster.local\""),
                  ["mesh/rule.yaml:7:9: spec.host: \"*.production.svc.cluster.local\" is a wildcard host, which is not supported: a DestinationRule names one Service"]),
        ErrorCase("host an IP address", rule(hostLine, "  host: 10.1.0.5"),
                  ["mesh/rule.yaml:7:9: spec.host: \"10.1.0.5\" is an IP address, not a Service name: a DestinationRule names one Service"]),
        ErrorCase("host in another domain", rule(hostLine, "  host: webapp.example.com"),
                  ["mesh/rule.yaml:7:9: spec.host: \"webapp.example.com\" is not a name of a Service: write webapp, webapp.production, webapp.production.svc, webapp.production.svc.cluster.local or webapp.production.svc.clusterset.local (lowercase, no trailing dot; other domains are not served)"]),
        ErrorCase("subsets", rule(extra: "  subsets: [ { name: v1, labels: { version: v1 } } ]\n"),
                  ["mesh/rule.yaml:12:3: spec.subsets: not supported: Causeway sends to a Service's endpoints as a whole (it has no pod labels); split traffic between Services with an HTTPRoute"]),
        ErrorCase("exportTo", rule(extra: "  exportTo: [ \".\" ]\n"),
                  ["mesh/rule.yaml:12:3: spec.exportTo: not supported: a DestinationRule applies in every proxy that reads it"]),
        ErrorCase("workloadSelector", rule(extra: "  workloadSelector: { matchLabels: { app: frontend } }\n"),
                  ["mesh/rule.yaml:12:3: spec.workloadSelector: not supported: a DestinationRule applies to every caller of this proxy"]),
        ErrorCase("portLevelSettings", rule(extra: "    portLevelSettings: []\n"),
                  ["mesh/rule.yaml:12:5: spec.trafficPolicy.portLevelSettings: not supported: the settings apply to every port of the Service"]),
        ErrorCase("tls", rule(extra: "    tls: { mode: ISTIO_MUTUAL }\n"),
                  ["mesh/rule.yaml:12:5: spec.trafficPolicy.tls: not supported: the proxy chooses the transport itself: mTLS with the mesh's certificates to other clusters, h2c to local endpoints"]),
        ErrorCase("consistentHash", rule(balancerLine, "    loadBalancer: { consistentHash: { httpHeaderName: x-user } }"),
                  ["mesh/rule.yaml:11:21: spec.trafficPolicy.loadBalancer.consistentHash: not supported: use simple: LEAST_REQUEST, ROUND_ROBIN or RANDOM"]),
        ErrorCase("localityLbSetting", rule(balancerLine, "    loadBalancer: { localityLbSetting: { enabled: true } }"),
                  ["mesh/rule.yaml:11:21: spec.trafficPolicy.loadBalancer.localityLbSetting: not supported: order other clusters with failoverPriority (cluster names, a Causeway field)"]),
        ErrorCase("PASSTHROUGH", rule(balancerLine, "    loadBalancer: { simple: PASSTHROUGH }"),
                  ["mesh/rule.yaml:11:29: spec.trafficPolicy.loadBalancer.simple: PASSTHROUGH is not supported: the proxy always picks an endpoint of the Service; use LEAST_REQUEST, ROUND_ROBIN or RANDOM"]),
        ErrorCase("algorithm unknown", rule(balancerLine, "    loadBalancer: { simple: least_request }"),
                  ["mesh/rule.yaml:11:29: spec.trafficPolicy.loadBalancer.simple: unknown algorithm \"least_request\"; expected LEAST_REQUEST (or its old name LEAST_CONN), ROUND_ROBIN or RANDOM"]),
        ErrorCase("failoverPriority not cluster names", rule(balancerLine, "    loadBalancer: { failoverPriority: [ cluster3, Cluster2 ] }"),
                  ["mesh/rule.yaml:11:51: spec.trafficPolicy.loadBalancer.failoverPriority[1]: \"Cluster2\" \(dnsLabel)"]),
        ErrorCase("failoverPriority with a cluster twice", rule(balancerLine, "    loadBalancer: { failoverPriority: [ cluster3, cluster3 ] }"),
                  ["mesh/rule.yaml:11:51: spec.trafficPolicy.loadBalancer.failoverPriority[1]: cluster cluster3 is already listed at spec.trafficPolicy.loadBalancer.failoverPriority[0]"]),
        ErrorCase("maxConnections zero", rule(tcpLine, "      tcp: { maxConnections: 0 }"),
                  ["mesh/rule.yaml:10:30: spec.trafficPolicy.connectionPool.tcp.maxConnections: 0 is out of range: must be between 1 and 1000000"]),
        ErrorCase("connectTimeout over 1m", rule(tcpLine, "      tcp: { connectTimeout: 1m1s }"),
                  ["mesh/rule.yaml:10:30: spec.trafficPolicy.connectionPool.tcp.connectTimeout: 1m1s is out of range: must be between 1ms and 1m"]),
        ErrorCase("http limits out of range",
                  rule(tcpLine, tcpLine + "\n      http: { http2MaxRequests: 1000001, http1MaxPendingRequests: 0, maxRetries: 0, maxRequestsPerConnection: -1, idleTimeout: 500ms }"),
                  ["mesh/rule.yaml:11:33: spec.trafficPolicy.connectionPool.http.http2MaxRequests: 1000001 is out of range: must be between 1 and 1000000",
                   "mesh/rule.yaml:11:67: spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests: 0 is out of range: must be between 1 and 1000000",
                   "mesh/rule.yaml:11:82: spec.trafficPolicy.connectionPool.http.maxRetries: 0 is out of range: must be between 1 and 1000000",
                   "mesh/rule.yaml:11:111: spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection: -1 is out of range: must be between 0 and 1000000",
                   "mesh/rule.yaml:11:128: spec.trafficPolicy.connectionPool.http.idleTimeout: 500ms is out of range: must be between 1s and 24h"]),
        ErrorCase("connectionPool unknown field", rule(tcpLine, "      tcp: { maxConnections: 100, tcpKeepalive: { time: 7200s } }"),
                  ["mesh/rule.yaml:10:35: spec.trafficPolicy.connectionPool.tcp.tcpKeepalive: unknown field \"tcpKeepalive\"; known fields: maxConnections, connectTimeout"]),
        ErrorCase("outlierDetection out of range",
                  rule(extra: "    outlierDetection: { consecutive5xxErrors: -1, interval: 2h, baseEjectionTime: 0s, maxEjectionPercent: 101, minHealthPercent: 101 }\n"),
                  ["mesh/rule.yaml:12:47: spec.trafficPolicy.outlierDetection.consecutive5xxErrors: -1 is out of range: must be between 0 and 1000000",
                   "mesh/rule.yaml:12:61: spec.trafficPolicy.outlierDetection.interval: 2h is out of range: must be between 1ms and 1h",
                   "mesh/rule.yaml:12:83: spec.trafficPolicy.outlierDetection.baseEjectionTime: 0s is out of range: must be between 1ms and 1h",
                   "mesh/rule.yaml:12:107: spec.trafficPolicy.outlierDetection.maxEjectionPercent: 101 is out of range: must be between 0 and 100",
                   "mesh/rule.yaml:12:130: spec.trafficPolicy.outlierDetection.minHealthPercent: 101 is out of range: must be between 0 and 100"]),
        ErrorCase("outlierDetection with Istio's old field", rule(extra: "    outlierDetection: { consecutiveErrors: 5 }\n"),
                  ["mesh/rule.yaml:12:25: spec.trafficPolicy.outlierDetection.consecutiveErrors: unknown field \"consecutiveErrors\"; known fields: consecutive5xxErrors, consecutiveGatewayErrors, consecutiveLocalOriginFailures, interval, baseEjectionTime, maxEjectionPercent, minHealthPercent"]),
        ErrorCase("two rules for one Service, spelled differently",
                  meshFiles(["mesh/a.yaml": destinationRuleYAML(),
                             "mesh/b.yaml": replacing(replacing(destinationRuleYAML(), "  name: webapp", "  name: webapp-2"),
                                                      hostLine, "  host: webapp.production.svc.cluster.local")]),
                  ["mesh/b.yaml:7:9: spec.host: webapp.production already has a DestinationRule, production/webapp at mesh/a.yaml:7:9; a Service has at most one: merge them"]),
        ErrorCase("a local and a clusterset rule are for two Services",
                  meshFiles(["mesh/a.yaml": destinationRuleYAML(),
                             "mesh/b.yaml": replacing(replacing(destinationRuleYAML(), "  name: webapp", "  name: webapp-2"),
                                                      hostLine, "  host: webapp.production.svc.clusterset.local") + "bad: 1\n"]),
                  ["mesh/b.yaml:12:1: bad: unknown field \"bad\"; known fields: apiVersion, kind, metadata, spec"]),
        ErrorCase("DestinationRule defined twice", meshFiles(["mesh/a.yaml": destinationRuleYAML(),
                                                             "mesh/b.yaml": replacing(destinationRuleYAML(), hostLine, "  host: billing")]),
                  ["mesh/b.yaml:4:9: metadata.name: DestinationRule production/webapp is defined twice; the first is at mesh/a.yaml:4:9"]),
        ErrorCase("DestinationRule apiVersion not served", rule("networking.istio.io/v1", "networking.istio.io/v2"),
                  ["mesh/rule.yaml:1:13: apiVersion: apiVersion networking.istio.io/v2 is not served for kind DestinationRule; expected networking.istio.io/v1, networking.istio.io/v1beta1 or networking.istio.io/v1alpha3"]),
    ]

    static let authorizationCases: [ErrorCase] = [
        ErrorCase("targetRefs missing", policy("  targetRefs:\n" + targetLine + "\n", ""),
                  ["mesh/policy.yaml:7:3: spec.targetRefs: required field is missing"]),
        ErrorCase("targetRefs empty", policy("  targetRefs:\n" + targetLine, "  targetRefs: []"),
                  ["mesh/policy.yaml:7:15: spec.targetRefs: must not be empty: name the Services this policy applies to, e.g. { kind: Service, name: webapp }"]),
        ErrorCase("17 targetRefs", policy("  targetRefs:\n" + targetLine, "  targetRefs: " + flowList(17) { "{ kind: Service, name: s\($0) }" }),
                  ["mesh/policy.yaml:7:15: spec.targetRefs: has 17 targetRefs; at most 16 are allowed"]),
        ErrorCase("target kind missing", policy(targetLine, "  - { name: webapp }"),
                  ["mesh/policy.yaml:8:5: spec.targetRefs[0].kind: required field is missing"]),
        ErrorCase("target kind Gateway", policy(targetLine, "  - { kind: Gateway, group: gateway.networking.k8s.io, name: webapp }"),
                  ["mesh/policy.yaml:8:13: spec.targetRefs[0].kind: kind Gateway is not supported: a policy applies to Services (kind: Service) this proxy routes to",
                   "mesh/policy.yaml:8:29: spec.targetRefs[0].group: must be \"\" (the core API group, where Service is), got \"gateway.networking.k8s.io\""]),
        ErrorCase("target in another namespace", policy(targetLine, "  - { kind: Service, name: webapp, namespace: staging }"),
                  ["mesh/policy.yaml:8:47: spec.targetRefs[0].namespace: \"staging\" is not this AuthorizationPolicy's namespace \"production\"; references to other namespaces are not supported (put the AuthorizationPolicy in staging, or leave namespace out)"]),
        ErrorCase("target twice", policy(targetLine, targetLine + "\n" + targetLine),
                  ["mesh/policy.yaml:9:28: spec.targetRefs[1].name: Service webapp is already a target at spec.targetRefs[0]"]),
        ErrorCase("action CUSTOM", policy(extra: "  action: CUSTOM\n"),
                  ["mesh/policy.yaml:14:11: spec.action: CUSTOM is not supported: it delegates to an external authorizer, which this version does not call"]),
        ErrorCase("action AUDIT", policy(extra: "  action: AUDIT\n"),
                  ["mesh/policy.yaml:14:11: spec.action: AUDIT is not supported: there is no audit log"]),
        ErrorCase("action lowercase", policy(extra: "  action: allow\n"),
                  ["mesh/policy.yaml:14:11: spec.action: unknown action \"allow\"; expected ALLOW or DENY"]),
        ErrorCase("principal with a * inside", policy(sourceLine, "    - source: { principals: [ \"mesh.local/ns/*/sa/frontend\" ] }"),
                  ["mesh/policy.yaml:11:31: spec.rules[0].from[0].source.principals[0]: \"mesh.local/ns/*/sa/frontend\" has a * inside; * may only start or end a value (*, prefix*, *suffix, *infix*)"]),
        ErrorCase("principal with * at both ends and inside", policy(sourceLine, "    - source: { principals: [ \"*/sa/*/x*\" ] }"),
                  ["mesh/policy.yaml:11:31: spec.rules[0].from[0].source.principals[0]: \"*/sa/*/x*\" has a * inside; * may only start or end a value (*, prefix*, *suffix, *infix*)"]),
        ErrorCase("principal with the spiffe scheme", policy(sourceLine, "    - source: { principals: [ \"spiffe://mesh.local/ns/production/sa/frontend\" ] }"),
                  ["mesh/policy.yaml:11:31: spec.rules[0].from[0].source.principals[0]: \"spiffe://mesh.local/ns/production/sa/frontend\": write principals without spiffe://, as Istio does (\"mesh.local/ns/production/sa/frontend\")"]),
        ErrorCase("namespace not a DNS label", policy(sourceLine, "    - source: { namespaces: [ Production, \"prod-*\" ] }"),
                  ["mesh/policy.yaml:11:31: spec.rules[0].from[0].source.namespaces[0]: \"Production\" \(dnsLabel) (or a pattern of one: *, prefix*, *suffix)"]),
        ErrorCase("principals empty", policy(sourceLine, "    - source: { principals: [] }"),
                  ["mesh/policy.yaml:11:29: spec.rules[0].from[0].source.principals: must not be empty: an empty list would match nothing here; leave the field out to match anything"]),
        ErrorCase("source empty", policy(sourceLine, "    - source: {}"),
                  ["mesh/policy.yaml:11:15: spec.rules[0].from[0].source: an empty source matches every caller (Istio refuses it); give principals or namespaces, or leave out from"]),
        ErrorCase("from without source", policy(sourceLine, "    - {}"),
                  ["mesh/policy.yaml:11:7: spec.rules[0].from[0].source: required field is missing"]),
        ErrorCase("operation empty", policy(operationLine, "    - operation: {}"),
                  ["mesh/policy.yaml:13:18: spec.rules[0].to[0].operation: an empty operation matches every request (Istio refuses it); give methods or paths, or leave out to"]),
        ErrorCase("method lowercase", policy(operationLine, "    - operation: { methods: [ get ] }"),
                  ["mesh/policy.yaml:13:31: spec.rules[0].to[0].operation.methods[0]: \"get\" is not an HTTP method (methods are uppercase: GET)"]),
        ErrorCase("method pattern", policy(operationLine, "    - operation: { methods: [ \"P*\" ] }"),
                  ["mesh/policy.yaml:13:31: spec.rules[0].to[0].operation.methods[0]: \"P*\": methods are matched exactly; leave methods out to match any"]),
        ErrorCase("path without a slash", policy(operationLine, "    - operation: { paths: [ \"api/*\" ] }"),
                  ["mesh/policy.yaml:13:29: spec.rules[0].to[0].operation.paths[0]: \"api/*\" must start with / (or be a *suffix pattern)"]),
        ErrorCase("path with a * inside", policy(operationLine, "    - operation: { paths: [ \"/api/*/items\" ] }"),
                  ["mesh/policy.yaml:13:29: spec.rules[0].to[0].operation.paths[0]: \"/api/*/items\" has a * inside; * may only start or end a value (*, prefix*, *suffix, *infix*)"]),
        ErrorCase("path with a query", policy(operationLine, "    - operation: { paths: [ \"/api?x=1\" ] }"),
                  ["mesh/policy.yaml:13:29: spec.rules[0].to[0].operation.paths[0]: \"/api?x=1\" holds \"?\": paths are compared without the query"]),
        ErrorCase("AuthorizationPolicy defined twice", meshFiles(["mesh/a.yaml": authorizationPolicyYAML(), "mesh/b.yaml": authorizationPolicyYAML()]),
                  ["mesh/b.yaml:4:9: metadata.name: AuthorizationPolicy production/webapp-callers is defined twice; the first is at mesh/a.yaml:4:9"]),
        ErrorCase("AuthorizationPolicy apiVersion not served", policy("security.istio.io/v1", "security.istio.io/v1alpha1"),
                  ["mesh/policy.yaml:1:13: apiVersion: apiVersion security.istio.io/v1alpha1 is not served for kind AuthorizationPolicy; expected security.istio.io/v1 or security.istio.io/v1beta1"]),
    ]

    @Test("HTTPRoute", arguments: routeCases)
    func routes(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("DestinationRule", arguments: destinationRuleCases)
    func destinationRules(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("AuthorizationPolicy", arguments: authorizationCases)
    func authorizationPolicies(_ errorCase: ErrorCase) throws { try check(errorCase) }

    /// Each field Istio has and this version refuses, with where it goes (the line replaced
    /// and its replacement, whose field starts at the column given).
    @Test("AuthorizationPolicy fields that are not supported", arguments: [
        ("selector", "  selector: { matchLabels: { app: webapp } }", 14, 3, "spec.selector",
         "the proxy knows Services, not pod labels; name the Services with targetRefs"),
        ("provider", "  provider: { name: ext-authz }", 14, 3, "spec.provider",
         "CUSTOM actions need an external authorizer, which this version does not call"),
        ("when", "    when: [ { key: \"request.headers[x-user]\", values: [ admin ] } ]", 14, 5, "spec.rules[0].when",
         "conditions on request attributes are not evaluated; match with from (principals, namespaces) and to (methods, paths)"),
        ("notPrincipals", "      notPrincipals: [ \"*/sa/batch\" ]", 14, 7, "spec.rules[0].from[0].source.notPrincipals",
         "negative matches are not evaluated; list what an ALLOW policy allows, or what a DENY policy denies"),
        ("notNamespaces", "      notNamespaces: [ staging ]", 14, 7, "spec.rules[0].from[0].source.notNamespaces",
         "negative matches are not evaluated; list what an ALLOW policy allows, or what a DENY policy denies"),
        ("requestPrincipals", "      requestPrincipals: [ \"*\" ]", 14, 7, "spec.rules[0].from[0].source.requestPrincipals",
         "there is no end-user (JWT) authentication; callers are identified by their mTLS principal"),
        ("ipBlocks", "      ipBlocks: [ 10.0.0.0/8 ]", 14, 7, "spec.rules[0].from[0].source.ipBlocks",
         "callers are identified by their mTLS principal, not their address"),
        ("notMethods", "      notMethods: [ DELETE ]", 14, 7, "spec.rules[0].to[0].operation.notMethods",
         "negative matches are not evaluated; list what an ALLOW policy allows, or what a DENY policy denies"),
        ("notPaths", "      notPaths: [ /admin ]", 14, 7, "spec.rules[0].to[0].operation.notPaths",
         "negative matches are not evaluated; list what an ALLOW policy allows, or what a DENY policy denies"),
        ("hosts", "      hosts: [ webapp.example.com ]", 14, 7, "spec.rules[0].to[0].operation.hosts",
         "the policy applies to the Services in targetRefs, by whatever name they are called"),
        ("ports", "      ports: [ \"8080\" ]", 14, 7, "spec.rules[0].to[0].operation.ports",
         "the policy applies to every port of its targets"),
    ])
    func unsupportedFields(name: String, line: String, row: Int, column: Int, field: String, why: String) throws {
        // Source and operation are written as block mappings so a field can be added to them.
        var document = replacing(authorizationPolicyYAML(), sourceLine,
                                 "    - source:\n        principals: [ \"mesh.local/ns/production/sa/frontend\" ]")
        document = replacing(document, operationLine, "    - operation:\n        methods: [ GET ]")
        // Now: 11 `- source:`, 12 principals, 13 `to:`, 14 `- operation:`, 15 methods.
        switch field {
        case _ where field.hasPrefix("spec.rules[0].from"):
            document = replacing(document, "        principals: [ \"mesh.local/ns/production/sa/frontend\" ]",
                                 "        principals: [ \"mesh.local/ns/production/sa/frontend\" ]\n  " + line)
            try check(ErrorCase(name, meshFiles(["mesh/policy.yaml": document]),
                                ["mesh/policy.yaml:13:\(column + 2): \(field): not supported: \(why)"]))
        case _ where field.hasPrefix("spec.rules[0].to"):
            document = replacing(document, "        methods: [ GET ]", "        methods: [ GET ]\n  " + line)
            try check(ErrorCase(name, meshFiles(["mesh/policy.yaml": document]),
                                ["mesh/policy.yaml:16:\(column + 2): \(field): not supported: \(why)"]))
        default:
            try check(ErrorCase(name, meshFiles(["mesh/policy.yaml": document + line + "\n"]),
                                ["mesh/policy.yaml:\(row + 2):\(column): \(field): not supported: \(why)"]))
        }
    }

    @Test("every problem of a route is reported at once, in order")
    func allAtOnce() throws {
        let document = replacing(replacing(replacing(routeYAML("    timeouts: { request: 1d }\n  hostnames: [ a.example.com ]\n"),
                                                     "  - kind: Service", "  - kind: Gateway"),
                                           pathLine, "    - path: { type: RegularExpression }\n      method: get"),
                                 "    port: 8080", "    port: 0")
        let problems = try withTree(meshFiles(["mesh/route.yaml": document])) { $0.problems() }
        #expect(problems == [
            "mesh/route.yaml:8:11: spec.parentRefs[0].kind: kind Gateway is not supported: Causeway is a mesh proxy, and a mesh route attaches to a Service (kind: Service)",
            "mesh/route.yaml:12:21: spec.rules[0].matches[0].path.type: RegularExpression is not supported; use Exact or PathPrefix",
            "mesh/route.yaml:13:15: spec.rules[0].matches[0].method: unknown method \"get\" (methods are uppercase: GET); expected one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH",
            "mesh/route.yaml:16:13: spec.rules[0].backendRefs[0].port: 0 is out of range: must be between 1 and 65535",
            "mesh/route.yaml:17:26: spec.rules[0].timeouts.request: \"1d\" is not a duration such as 10s, 500ms, 1h or 1m30s (there is no unit for days: write 24h)",
            "mesh/route.yaml:18:3: spec.hostnames: not supported: a route attached to a Service (the mesh form) applies to every name of that Service, so it takes no hostnames; remove the field",
        ])
    }

    @Test("a broken policy rejects the whole configuration, Proxy problems included")
    func withOtherProblems() throws {
        let files = meshFiles([
            "causeway.yaml": meshProxyYAML("  workers: 0\n"),
            "mesh/route.yaml": replacing(routeYAML(), "    port: 8080", "    port: 0"),
            "mesh/rule.yaml": replacing(destinationRuleYAML(), hostLine, "  host: \"*\""),
        ])
        let problems = try withTree(files) { $0.problems() }
        #expect(problems == [
            "causeway.yaml:17:12: spec.workers: 0 is out of range: must be between 1 and 256",
            "mesh/route.yaml:15:13: spec.rules[0].backendRefs[0].port: 0 is out of range: must be between 1 and 65535",
            "mesh/rule.yaml:7:9: spec.host: \"*\" is a wildcard host, which is not supported: a DestinationRule names one Service",
        ])
    }
}
