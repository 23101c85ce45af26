import CausewayMesh
import Testing
@testable import CausewayApp

/// The three kinds as the design's examples write them (one file), plus a route and a policy
/// in the config file beside the Proxy, in their older apiVersions.
private let policiesYAML = """
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: { name: webapp-canary, namespace: production }
    spec:
      parentRefs: [ { group: "", kind: Service, name: webapp, port: 8080 } ]
      rules:
      - matches: [ { path: { type: PathPrefix, value: /api }, headers: [ { name: X-Canary, value: "1" } ], method: GET, queryParams: [ { name: v, value: "2" } ] } ]
        backendRefs: [ { name: webapp-cluster2, port: 8080 } ]
      - backendRefs:
        - { name: webapp, port: 8080, weight: 90 }
        - { name: webapp-cluster2, port: 8080, weight: 10 }
        - { group: multicluster.x-k8s.io, kind: ServiceImport, name: webapp, weight: 0 }
        timeouts: { request: 10s, backendRequest: 2s }
        retry: { attempts: 3, codes: [ 503, 504 ], backoff: 50ms }
    ---
    apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: { name: webapp, namespace: production }
    spec:
      host: webapp.production.svc.cluster.local
      trafficPolicy:
        connectionPool:
          tcp: { maxConnections: 100, connectTimeout: 1s }
          http: { http2MaxRequests: 1000, http1MaxPendingRequests: 100, maxRetries: 3, maxRequestsPerConnection: 0, idleTimeout: 60s }
        outlierDetection: { consecutive5xxErrors: 5, consecutiveGatewayErrors: 0, consecutiveLocalOriginFailures: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 10, minHealthPercent: 0 }
        loadBalancer: { simple: LEAST_REQUEST, failoverPriority: [ cluster3, cluster2 ] }
    ---
    apiVersion: networking.istio.io/v1beta1
    kind: DestinationRule
    metadata: { name: webapp-everywhere, namespace: production }
    spec:
      host: webapp.production.svc.clusterset.local
      trafficPolicy:
        outlierDetection: { baseEjectionTime: 10m }
        loadBalancer: { simple: LEAST_CONN }
    ---
    apiVersion: networking.istio.io/v1alpha3
    kind: DestinationRule
    metadata: { name: billing }
    spec:
      host: billing
    ---
    apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata: { name: webapp-callers, namespace: production }
    spec:
      targetRefs: [ { kind: Service, group: "", name: webapp } ]
      action: ALLOW
      rules:
      - from: [ { source: { principals: [ "mesh.local/ns/production/sa/frontend", "*/sa/batch-*" ], namespaces: [ "production" ] } } ]
        to: [ { operation: { methods: [ GET, POST ], paths: [ "/api/*", "/healthz" ] } } ]

    """

private let configWithPolicies = meshProxyYAML() + """
    ---
    apiVersion: gateway.networking.k8s.io/v1beta1
    kind: HTTPRoute
    metadata: { name: billing }
    spec:
      parentRefs: [ { kind: Service, name: billing }, { kind: Service, name: billing, port: 7000 } ]
      rules:
      - matches: [ { path: { type: Exact, value: /pay } }, { headers: [ { type: Exact, name: x-user, value: "" } ] } ]
        timeouts: { request: 1m30s, backendRequest: 0s }
        retry: {}
    ---
    apiVersion: security.istio.io/v1beta1
    kind: AuthorizationPolicy
    metadata: { name: deny-all-billing }
    spec:
      targetRefs: [ { kind: Service, name: billing } ]
      action: DENY
      rules: [ {} ]
    ---
    apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata: { name: allow-nothing, namespace: production }
    spec:
      targetRefs: [ { kind: Service, name: webapp, namespace: production } ]

    """

@Suite("Traffic policy configuration")
struct PolicyConfigTests {
    @Test("a file with all three kinds loads into the expected values")
    func validPolicies() throws {
        let config = try withTree(meshFiles(["causeway.yaml": configWithPolicies, "mesh/policies.yaml": policiesYAML])) {
            try $0.load().get()
        }
        let policies = config.policies
        let webapp = ServiceKey(namespace: "production", name: "webapp")
        let webapp2 = ServiceKey(namespace: "production", name: "webapp-cluster2")
        let billing = ServiceKey(namespace: "default", name: "billing")
        let ms: UInt64 = 1_000_000

        // Routes, by namespace then name: default/billing, production/webapp-canary.
        #expect(policies.routes.map(\.id) == ["default/billing", "production/webapp-canary"])
        var defaultRetry = RetryPolicy()
        defaultRetry.idempotentOnly = false
        let billingRoute = HTTPRoutePolicy(name: "billing", namespace: "default", parents: [billing], rules: [
            RouteRule(matches: [RouteMatch(path: .exact("/pay")), RouteMatch(headers: [NameValue(name: "x-user", value: "")])],
                      backends: [], timeouts: RouteTimeouts(requestNanos: 90_000 * ms, backendRequestNanos: 0), retry: defaultRetry),
        ])
        #expect(policies.routes[0] == billingRoute)
        #expect(config.routeParentRefs["default/billing"] == [RouteParentRef(service: billing, port: nil), RouteParentRef(service: billing, port: 7000)])

        var retry = RetryPolicy()
        retry.attempts = 3
        retry.codes = [503, 504]
        retry.backoffBaseNanos = 50 * ms
        retry.backoffMaxNanos = 500 * ms
        retry.idempotentOnly = false
        let canary = HTTPRoutePolicy(name: "webapp-canary", namespace: "production", parents: [webapp], rules: [
            RouteRule(
                matches: [RouteMatch(path: .prefix("/api"), headers: [NameValue(name: "x-canary", value: "1")], method: "GET",
                                     queryParams: [NameValue(name: "v", value: "2")])],
                backends: [RouteBackend(service: webapp2, port: 8080, weight: 1)]),
            RouteRule(
                matches: [],
                backends: [
                    RouteBackend(service: webapp, port: 8080, weight: 90),
                    RouteBackend(service: webapp2, port: 8080, weight: 10),
                    RouteBackend(service: webapp.inClusterset, port: nil, weight: 0),
                ],
                timeouts: RouteTimeouts(requestNanos: 10_000 * ms, backendRequestNanos: 2_000 * ms), retry: retry),
        ])
        #expect(policies.routes[1] == canary)
        #expect(config.routeParentRefs["production/webapp-canary"] == [RouteParentRef(service: webapp, port: 8080)])

        // DestinationRules: default/billing, production/webapp, production/webapp-everywhere.
        #expect(policies.destinations.map(\.id) == ["default/billing", "production/webapp", "production/webapp-everywhere"])
        #expect(policies.destinations[0] == DestinationPolicy(name: "billing", namespace: "default", host: billing))
        var limits = CircuitBreakerLimits()
        limits.maxConnections = 100
        limits.maxRequests = 1000
        limits.maxPendingRequests = 100
        limits.maxRetries = 3
        #expect(policies.destinations[1] == DestinationPolicy(
            name: "webapp", namespace: "production", host: webapp, limits: limits, connectTimeoutNanos: 1_000 * ms,
            idleTimeoutNanos: 60_000 * ms, maxRequestsPerConnection: 0, outlierDetection: OutlierPolicy(),
            loadBalancer: .leastRequest, failoverPriority: ["cluster3", "cluster2"]))
        var outlier = OutlierPolicy()
        outlier.baseEjectionNanos = 600_000 * ms
        outlier.maxEjectionNanos = 600_000 * ms  // raised to the base, as Envoy does
        #expect(policies.destinations[2] == DestinationPolicy(
            name: "webapp-everywhere", namespace: "production", host: webapp.inClusterset, outlierDetection: outlier))

        // AuthorizationPolicies: default/deny-all-billing, production/allow-nothing, production/webapp-callers.
        #expect(policies.authorizations == [
            AuthorizationPolicyRule(name: "deny-all-billing", namespace: "default", targets: [billing], action: .deny,
                                    rules: [AuthorizationRule(from: [], to: [])]),
            AuthorizationPolicyRule(name: "allow-nothing", namespace: "production", targets: [webapp], action: .allow, rules: []),
            AuthorizationPolicyRule(name: "webapp-callers", namespace: "production", targets: [webapp], action: .allow, rules: [
                AuthorizationRule(
                    from: [AuthorizationSource(principals: ["mesh.local/ns/production/sa/frontend", "*/sa/batch-*"], namespaces: ["production"])],
                    to: [AuthorizationOperation(methods: ["GET", "POST"], paths: ["/api/*", "/healthz"])]),
            ]),
        ])
    }

    @Test("a configuration without policies has none")
    func noPolicies() throws {
        let config = try withTree(["causeway.yaml": proxyYAML()]) { try $0.load().get() }
        #expect(config.policies == TrafficPolicies())
        #expect(EffectiveConfig.json(config).contains("""
              "routes": [],
              "destinationRules": [],
              "authorizationPolicies": [],
            """))
    }

    @Test("host names resolve from the rule's namespace like Kubernetes DNS", arguments: [
        ("webapp", ServiceKey(namespace: "production", name: "webapp")),
        ("webapp.production", ServiceKey(namespace: "production", name: "webapp")),
        ("webapp.production.svc", ServiceKey(namespace: "production", name: "webapp")),
        ("webapp.production.svc.cluster.local", ServiceKey(namespace: "production", name: "webapp")),
        ("webapp.staging.svc.cluster.local", ServiceKey(namespace: "staging", name: "webapp")),
        ("webapp-cluster2", ServiceKey(namespace: "production", name: "webapp-cluster2")),
        ("webapp-cluster2.production.svc", ServiceKey(namespace: "production", name: "webapp-cluster2")),
        ("webapp.production.svc.clusterset.local", ServiceKey(namespace: "production", name: "webapp", clusterset: true)),
    ])
    func hostForms(host: String, key: ServiceKey) throws {
        let rule = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: { name: webapp, namespace: production }
            spec:
              host: \(host)

            """
        let config = try withTree(meshFiles(["mesh/rule.yaml": rule])) { try $0.load().get() }
        #expect(config.policies.destinations.map(\.host) == [key])
        #expect(DestinationRuleDocument.serviceKey(host: host, namespace: "production") == key)
    }

    @Test("host names that name no Service", arguments: [
        "webapp.example.com", "webapp.production.svc.cluster.local.", "webapp.production.pod.cluster.local", "Webapp",
        "*.production.svc.cluster.local", "10.0.0.1", "webapp.production.svc.other.local", "webapp..production", "1webapp",
    ])
    func badHosts(host: String) {
        #expect(DestinationRuleDocument.serviceKey(host: host, namespace: "production") == nil)
    }

    @Test("Gateway API durations", arguments: [
        ("10s", 10_000), ("500ms", 500), ("1h", 3_600_000), ("1m30s", 90_000), ("0s", 0), ("1h1m1s1ms", 3_661_001),
        ("99999ms", 99_999), ("2m1ms", 120_001),
    ])
    func gatewayDurations(text: String, millis: Int) {
        #expect(DurationText.gatewayMillis(text) == millis)
    }

    @Test("not Gateway API durations", arguments: ["", "10", "s", "1.5s", "100000ms", "1h1m1s1ms1ms", "-1s", "1d", "1 s", "1S", "1us"])
    func notGatewayDurations(text: String) {
        #expect(DurationText.gatewayMillis(text) == nil)
    }

    @Test("the effective configuration shows routes, destination rules and authorization policies")
    func effectiveConfig() throws {
        let config = try withTree(meshFiles(["causeway.yaml": configWithPolicies, "mesh/policies.yaml": policiesYAML])) {
            try $0.load().get()
        }
        let json = EffectiveConfig.json(config)
        let start = try #require(json.range(of: "  \"routes\": ["))
        let end = try #require(json.range(of: "  \"files\": ["))
        #expect(String(json[start.lowerBound..<end.lowerBound]) == expectedPoliciesJSON)
    }
}

private let expectedPoliciesJSON = """
      "routes": [
        {
          "name": "billing",
          "namespace": "default",
          "parentRefs": [
            {
              "service": "billing.default",
              "port": null
            },
            {
              "service": "billing.default",
              "port": 7000
            }
          ],
          "rules": [
            {
              "matches": [
                {
                  "path": {
                    "type": "Exact",
                    "value": "/pay"
                  },
                  "headers": [],
                  "queryParams": [],
                  "method": null
                },
                {
                  "path": {
                    "type": "PathPrefix",
                    "value": "/"
                  },
                  "headers": [
                    {
                      "name": "x-user",
                      "value": ""
                    }
                  ],
                  "queryParams": [],
                  "method": null
                }
              ],
              "backendRefs": [],
              "timeouts": {
                "requestMillis": 90000,
                "backendRequestMillis": 0
              },
              "retry": {
                "attempts": 2,
                "codes": [
                  503
                ],
                "backoffBaseMillis": 25,
                "backoffMaxMillis": 250,
                "idempotentOnly": false
              }
            }
          ]
        },
        {
          "name": "webapp-canary",
          "namespace": "production",
          "parentRefs": [
            {
              "service": "webapp.production",
              "port": 8080
            }
          ],
          "rules": [
            {
              "matches": [
                {
                  "path": {
                    "type": "PathPrefix",
                    "value": "/api"
                  },
                  "headers": [
                    {
                      "name": "x-canary",
                      "value": "1"
                    }
                  ],
                  "queryParams": [
                    {
                      "name": "v",
                      "value": "2"
                    }
                  ],
                  "method": "GET"
                }
              ],
              "backendRefs": [
                {
                  "service": "webapp-cluster2.production",
                  "port": 8080,
                  "weight": 1
                }
              ],
              "timeouts": {
                "requestMillis": 0,
                "backendRequestMillis": 0
              },
              "retry": null
            },
            {
              "matches": [],
              "backendRefs": [
                {
                  "service": "webapp.production",
                  "port": 8080,
                  "weight": 90
                },
                {
                  "service": "webapp-cluster2.production",
                  "port": 8080,
                  "weight": 10
                },
                {
                  "service": "webapp.production.svc.clusterset.local",
                  "port": null,
                  "weight": 0
                }
              ],
              "timeouts": {
                "requestMillis": 10000,
                "backendRequestMillis": 2000
              },
              "retry": {
                "attempts": 3,
                "codes": [
                  503,
                  504
                ],
                "backoffBaseMillis": 50,
                "backoffMaxMillis": 500,
                "idempotentOnly": false
              }
            }
          ]
        }
      ],
      "destinationRules": [
        {
          "name": "billing",
          "namespace": "default",
          "host": "billing.default",
          "connectionPool": {
            "tcp": {
              "maxConnections": 1024,
              "connectTimeoutMillis": null
            },
            "http": {
              "http2MaxRequests": 1024,
              "http1MaxPendingRequests": 1024,
              "maxRetries": 3,
              "maxRequestsPerConnection": 0,
              "idleTimeoutMillis": null
            }
          },
          "outlierDetection": null,
          "loadBalancer": {
            "simple": "LEAST_REQUEST",
            "failoverPriority": []
          }
        },
        {
          "name": "webapp",
          "namespace": "production",
          "host": "webapp.production",
          "connectionPool": {
            "tcp": {
              "maxConnections": 100,
              "connectTimeoutMillis": 1000
            },
            "http": {
              "http2MaxRequests": 1000,
              "http1MaxPendingRequests": 100,
              "maxRetries": 3,
              "maxRequestsPerConnection": 0,
              "idleTimeoutMillis": 60000
            }
          },
          "outlierDetection": {
            "consecutive5xxErrors": 5,
            "consecutiveGatewayErrors": 0,
            "consecutiveLocalOriginFailures": 5,
            "intervalMillis": 10000,
            "baseEjectionTimeMillis": 30000,
            "maxEjectionTimeMillis": 300000,
            "maxEjectionPercent": 10,
            "minHealthPercent": 0
          },
          "loadBalancer": {
            "simple": "LEAST_REQUEST",
            "failoverPriority": [
              "cluster3",
              "cluster2"
            ]
          }
        },
        {
          "name": "webapp-everywhere",
          "namespace": "production",
          "host": "webapp.production.svc.clusterset.local",
          "connectionPool": {
            "tcp": {
              "maxConnections": 1024,
              "connectTimeoutMillis": null
            },
            "http": {
              "http2MaxRequests": 1024,
              "http1MaxPendingRequests": 1024,
              "maxRetries": 3,
              "maxRequestsPerConnection": 0,
              "idleTimeoutMillis": null
            }
          },
          "outlierDetection": {
            "consecutive5xxErrors": 5,
            "consecutiveGatewayErrors": 0,
            "consecutiveLocalOriginFailures": 5,
            "intervalMillis": 10000,
            "baseEjectionTimeMillis": 600000,
            "maxEjectionTimeMillis": 600000,
            "maxEjectionPercent": 10,
            "minHealthPercent": 0
          },
          "loadBalancer": {
            "simple": "LEAST_REQUEST",
            "failoverPriority": []
          }
        }
      ],
      "authorizationPolicies": [
        {
          "name": "deny-all-billing",
          "namespace": "default",
          "targetRefs": [
            "billing.default"
          ],
          "action": "DENY",
          "rules": [
            {
              "from": [],
              "to": []
            }
          ]
        },
        {
          "name": "allow-nothing",
          "namespace": "production",
          "targetRefs": [
            "webapp.production"
          ],
          "action": "ALLOW",
          "rules": []
        },
        {
          "name": "webapp-callers",
          "namespace": "production",
          "targetRefs": [
            "webapp.production"
          ],
          "action": "ALLOW",
          "rules": [
            {
              "from": [
                {
                  "principals": [
                    "mesh.local/ns/production/sa/frontend",
                    "*/sa/batch-*"
                  ],
                  "namespaces": [
                    "production"
                  ]
                }
              ],
              "to": [
                {
                  "methods": [
                    "GET",
                    "POST"
                  ],
                  "paths": [
                    "/api/*",
                    "/healthz"
                  ]
                }
              ]
            }
          ]
        }
      ],

    """
