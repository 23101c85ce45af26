import CausewayMesh
import Testing
@testable import CausewayApp

/// Two clusters' configurations, as docs/configuration.md shows them: cluster1 runs a sidecar
/// linked to cluster2, with mirrored slices of cluster2's services; cluster2 runs a gateway
/// that exports them.
private let twoClusters: [String: String] = [
    "certs/root.pem": "root",
    "certs/cluster1/proxy-chain.pem": "chain1",
    "certs/cluster1/proxy-key.pem": "key1",
    "certs/cluster2/gateway-chain.pem": "chain2",
    "certs/cluster2/gateway-key.pem": "key2",

    "cluster1/causeway.yaml": """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: cluster1-proxy }
        spec:
          cluster: cluster1
          trustDomain: mesh.local
          namespace: production
          tls:
            trustBundle: ../certs/root.pem
            certificateChain: ../certs/cluster1/proxy-chain.pem
            privateKey: ../certs/cluster1/proxy-key.pem
          listeners:
          - { name: outbound, role: sidecar, address: "127.0.0.1:15001" }
          resources: [ mesh/ ]

        """,
    "cluster1/mesh/link-cluster2.yaml": """
        apiVersion: causeway.dev/v1alpha1
        kind: Link
        metadata: { name: cluster2 }
        spec:
          cluster: cluster2
          gateways: [ "10.0.2.10:15443" ]
          identity: spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway

        """,
    "cluster1/mesh/webapp.yaml": """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: webapp-1, namespace: production, labels: { kubernetes.io/service-name: webapp } }
        addressType: IPv4
        ports: [ { name: http, port: 8080, appProtocol: kubernetes.io/h2c } ]
        endpoints: [ { addresses: [ "10.1.0.5" ] } ]

        """,
    "cluster1/mesh/webapp-cluster2.yaml": """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: webapp-cluster2-1
          namespace: production
          labels:
            kubernetes.io/service-name: webapp-cluster2
            multicluster.kubernetes.io/source-cluster: cluster2
        addressType: IPv4
        ports: [ { name: http, port: 15443, appProtocol: http2 } ]
        endpoints: [ { addresses: [ "10.0.2.10" ] } ]

        """,
    // Served by a second gateway of cluster2 with its own identity.
    "cluster1/mesh/api-cluster2.yaml": """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: api-cluster2-1
          namespace: production
          labels:
            kubernetes.io/service-name: api-cluster2
            multicluster.kubernetes.io/source-cluster: cluster2
          annotations:
            causeway.dev/gateway-identity: spiffe://mesh.local/ns/mesh-system/sa/cluster2-api-gateway
        addressType: IPv4
        ports: [ { name: http, port: 15443 } ]
        endpoints: [ { addresses: [ "10.0.2.20" ] } ]

        """,

    "cluster2/causeway.yaml": """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: cluster2-gateway }
        spec:
          cluster: cluster2
          trustDomain: mesh.local
          namespace: production
          tls:
            trustBundle: ../certs/root.pem
            certificateChain: ../certs/cluster2/gateway-chain.pem
            privateKey: ../certs/cluster2/gateway-key.pem
          listeners:
          - { name: east-west, role: gateway, address: "0.0.0.0:15443" }
          admin: { address: "127.0.0.1:15000" }
          resources: [ mesh/ ]

        """,
    "cluster2/mesh/webapp.yaml": """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: webapp-a, namespace: production, labels: { kubernetes.io/service-name: webapp } }
        addressType: IPv4
        ports: [ { name: http, port: 8080, appProtocol: kubernetes.io/h2c } ]
        endpoints:
        - addresses: [ "10.2.0.5" ]
        - addresses: [ "10.2.0.6" ]
          conditions: { ready: false }

        """,
    "cluster2/mesh/internal.yaml": """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: internal-a, namespace: production, labels: { kubernetes.io/service-name: internal } }
        addressType: IPv4
        ports: [ { port: 9000 } ]
        endpoints: [ { addresses: [ "10.2.0.9" ] } ]

        """,
    // `api` is exported but has no slice yet: the gateway knows it and has no endpoint for it.
    "cluster2/mesh/exports.yaml": """
        apiVersion: multicluster.x-k8s.io/v1alpha1
        kind: ServiceExport
        metadata: { name: webapp, namespace: production }
        ---
        apiVersion: multicluster.x-k8s.io/v1alpha1
        kind: ServiceExport
        metadata:
          name: api
          namespace: production
          creationTimestamp: "2024-05-01T10:00:00Z"
        spec: {}

        """,
]

private func loadBoth() throws -> (cluster1: LoadedConfig, cluster2: LoadedConfig, root: String) {
    try withTree(twoClusters) { tree in
        (try tree.load("cluster1/causeway.yaml").get(), try tree.load("cluster2/causeway.yaml").get(), tree.root)
    }
}

@Suite("Two linked clusters")
struct MultiClusterConfigTests {
    @Test("cluster1: a sidecar with a Link and mirrored services")
    func sidecarSide() throws {
        let config = try loadBoth().cluster1
        #expect(config.proxy.listeners.map(\.role) == [.sidecar])
        #expect(config.proxy.tls != nil)
        #expect(config.exports.isEmpty)

        let link = try #require(config.links.first)
        #expect(config.links.count == 1)
        #expect(link.name == "cluster2")
        #expect(link.cluster == "cluster2")
        #expect(link.gateways == [SocketAddressSpec("10.0.2.10:15443")!])
        #expect(link.gatewayEndpoints == [EndpointAddress(host: "10.0.2.10", port: 15443)!])
        #expect(link.identity == "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway")
        #expect(link.probe == LinkProbe())
        #expect(link.probe.periodMillis == 3_000)
        #expect(link.probe.timeoutMillis == 1_000)
        #expect(link.probe.failureThreshold == 3)

        let services = config.services.services
        #expect(services.map(\.key.description) == ["api-cluster2.production", "webapp.production", "webapp-cluster2.production"])
        let (api, webapp, mirror) = (services[0], services[1], services[2])

        #expect(webapp.sourceCluster == nil)
        #expect(webapp.remoteName == nil)
        #expect(webapp.expectedIdentity == nil)
        #expect(!webapp.isMirrored)

        #expect(mirror.isMirrored)
        #expect(mirror.sourceCluster == "cluster2")
        #expect(mirror.remoteName == ServiceKey(namespace: "production", name: "webapp"))
        #expect(mirror.expectedIdentity == link.identity)
        #expect(mirror.readyEndpoints.map(\.description) == ["10.0.2.10:15443"])

        // The annotation overrides the Link's identity for this service only.
        #expect(api.sourceCluster == "cluster2")
        #expect(api.remoteName == ServiceKey(namespace: "production", name: "api"))
        #expect(api.expectedIdentity == "spiffe://mesh.local/ns/mesh-system/sa/cluster2-api-gateway")

        // Nothing is exported here, so a gateway would admit nothing.
        #expect(services.allSatisfy { !$0.exported })
        for name in ["webapp", "webapp-cluster2", "api-cluster2.production"] {
            #expect(config.services.resolve(authority: name) != nil)
            #expect(config.services.resolveExported(authority: name) == nil)
        }
    }

    @Test("cluster2: a gateway with exports, one without endpoints")
    func gatewaySide() throws {
        let config = try loadBoth().cluster2
        #expect(config.proxy.listeners.map(\.role) == [.gateway])
        #expect(config.proxy.listeners[0].address.description == "0.0.0.0:15443")
        #expect(config.links.isEmpty)
        #expect(config.exports == [ServiceKey(namespace: "production", name: "webapp"), ServiceKey(namespace: "production", name: "api")])

        let services = config.services.services
        #expect(services.map(\.key.name) == ["api", "internal", "webapp"])
        #expect(services.map(\.exported) == [true, false, true])
        #expect(services.map(\.index).map(config.services.isExported) == [true, false, true])
        #expect(services[0].totalEndpoints == 0)
        #expect(services[0].readyEndpoints.isEmpty)
        #expect(services[2].readyEndpoints.map(\.description) == ["10.2.0.5:8080"])
        #expect(services[2].totalEndpoints == 2)

        let table = config.services
        #expect(table.resolveExported(authority: "webapp.production.svc.cluster.local:15443") == 2)
        #expect(table.resolveExported(authority: "api.production") == 0)
        // Known but not exported reads exactly like unknown.
        #expect(table.resolve(authority: "internal.production") == 1)
        #expect(table.resolveExported(authority: "internal.production") == nil)
        #expect(table.resolveExported(authority: "unknown.production") == nil)
    }

    @Test("the two configurations fit together")
    func pairAgrees() throws {
        let (cluster1, cluster2, _) = try loadBoth()
        let gatewayPort = try #require(cluster2.proxy.listeners.first { $0.role == .gateway }).address.port
        let link = try #require(cluster1.links.first { $0.cluster == cluster2.proxy.cluster })
        #expect(link.gateways.allSatisfy { $0.port == gatewayPort })
        #expect(link.identity.hasPrefix("spiffe://\(cluster2.proxy.trustDomain)/"))

        let mirrors = cluster1.services.services.filter { $0.sourceCluster == cluster2.proxy.cluster }
        #expect(mirrors.count == 2)
        for mirror in mirrors {
            let remote = try #require(mirror.remoteName)
            // cluster1 sends the remote name; cluster2's gateway admits it.
            #expect(cluster2.services.resolveExported(authority: "\(remote).svc.cluster.local") != nil)
            #expect(mirror.readyEndpoints.allSatisfy { $0.port == gatewayPort })
            #expect(mirror.expectedIdentity?.hasPrefix("spiffe://\(cluster2.proxy.trustDomain)/") == true)
        }
    }

    @Test("the effective configuration shows links, exports and per-service multi-cluster fields")
    func effectiveConfig() throws {
        let (cluster1, cluster2, root) = try loadBoth()
        #expect(EffectiveConfig.json(cluster1) == """
            {
              "proxy": {
                "name": "cluster1-proxy",
                "cluster": "cluster1",
                "trustDomain": "mesh.local",
                "namespace": "production",
                "workers": 2,
                "watch": true,
                "tls": {
                  "trustBundle": "\(root)/certs/root.pem",
                  "certificateChain": "\(root)/certs/cluster1/proxy-chain.pem",
                  "privateKey": "\(root)/certs/cluster1/proxy-key.pem",
                  "rotationGracePeriodMillis": 30000
                },
                "http2": {
                  "maxConcurrentStreams": 256,
                  "initialStreamWindow": 1048576,
                  "connectionWindow": 16777216,
                  "maxHeaderListSize": 65536,
                  "maxHeaderFields": 100
                },
                "upstream": {
                  "connectTimeoutMillis": 1000,
                  "idleTimeoutMillis": 60000,
                  "maxConnectionsPerEndpoint": 64
                },
                "timeouts": {
                  "requestHeadersMillis": 10000,
                  "streamIdleMillis": 300000,
                  "requestMillis": 0,
                  "drainMillis": 10000,
                  "maxConnectionAgeMillis": 0,
                  "idleMillis": 300000,
                  "handshakeMillis": 10000
                },
                "limits": {
                  "maxConnectionsPerWorker": 10000,
                  "maxBufferedResponseBytesPerConnection": 33554432
                },
                "capture": {
                  "mark": 1337,
                  "excludePorts": [],
                  "excludeCIDRs": [],
                  "includeCIDRs": [],
                  "excludeUIDs": [],
                  "sniffTimeoutMillis": 100,
                  "passthroughIdleTimeoutMillis": 3600000
                }
              },
              "listeners": [
                {
                  "name": "outbound",
                  "role": "sidecar",
                  "address": "127.0.0.1:15001",
                  "accessLog": false
                }
              ],
              "admin": {
                "address": "127.0.0.1:15000"
              },
              "dns": null,
              "links": [
                {
                  "name": "cluster2",
                  "cluster": "cluster2",
                  "gateways": [
                    "10.0.2.10:15443"
                  ],
                  "identity": "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway",
                  "probe": {
                    "periodMillis": 3000,
                    "timeoutMillis": 1000,
                    "failureThreshold": 3
                  }
                }
              ],
              "exports": [],
              "services": [
                {
                  "index": 0,
                  "name": "api-cluster2",
                  "namespace": "production",
                  "exported": false,
                  "sourceCluster": "cluster2",
                  "remoteName": "api.production",
                  "expectedIdentity": "spiffe://mesh.local/ns/mesh-system/sa/cluster2-api-gateway",
                  "totalEndpoints": 1,
                  "readyEndpoints": [
                    "10.0.2.20:15443"
                  ]
                },
                {
                  "index": 1,
                  "name": "webapp",
                  "namespace": "production",
                  "exported": false,
                  "sourceCluster": null,
                  "remoteName": null,
                  "expectedIdentity": null,
                  "totalEndpoints": 1,
                  "readyEndpoints": [
                    "10.1.0.5:8080"
                  ]
                },
                {
                  "index": 2,
                  "name": "webapp-cluster2",
                  "namespace": "production",
                  "exported": false,
                  "sourceCluster": "cluster2",
                  "remoteName": "webapp.production",
                  "expectedIdentity": "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway",
                  "totalEndpoints": 1,
                  "readyEndpoints": [
                    "10.0.2.10:15443"
                  ]
                }
              ],
              "routes": [],
              "destinationRules": [],
              "authorizationPolicies": [],
              "files": [
                "\(root)/cluster1/causeway.yaml",
                "\(root)/cluster1/mesh/api-cluster2.yaml",
                "\(root)/cluster1/mesh/link-cluster2.yaml",
                "\(root)/cluster1/mesh/webapp-cluster2.yaml",
                "\(root)/cluster1/mesh/webapp.yaml"
              ],
              "folders": [
                "\(root)/cluster1/mesh"
              ],
              "lastReload": null,
              "notes": []
            }

            """)

        let gatewayJSON = EffectiveConfig.json(cluster2)
        #expect(gatewayJSON.contains("""
                  "name": "east-west",
                  "role": "gateway",
                  "address": "0.0.0.0:15443"
            """))
        #expect(gatewayJSON.contains("""
              "links": [],
              "exports": [
                "api.production",
                "webapp.production"
              ],
            """))
        #expect(gatewayJSON.contains("""
                  "name": "api",
                  "namespace": "production",
                  "exported": true,
                  "sourceCluster": null,
                  "remoteName": null,
                  "expectedIdentity": null,
                  "totalEndpoints": 0,
                  "readyEndpoints": []
            """))
    }

    @Test("an export in a sidecar's config is allowed: a shared resources folder may hold it")
    func exportWithoutGateway() throws {
        let config = try withTree(meshFiles(["mesh/webapp.yaml": sliceYAML(), "mesh/export.yaml": exportYAML()])) { tree in
            try tree.load().get()
        }
        #expect(config.proxy.listeners.map(\.role) == [.sidecar])
        #expect(config.services.services.map(\.exported) == [true])
        #expect(config.exports == [ServiceKey(namespace: "production", name: "webapp")])
    }

    @Test("a gateway listener and a Link may share the config; the Link's probe may be partial")
    func gatewayAndLink() throws {
        let files = meshFiles([
            "causeway.yaml": replacing(meshProxyYAML(), "    address: \"127.0.0.1:15001\"\n",
                                       "    address: \"127.0.0.1:15001\"\n  - { name: east-west, role: gateway, address: \"0.0.0.0:15443\" }\n"),
            "mesh/link.yaml": linkYAML("  probe: { period: 500ms, timeout: 500ms }\n"),
        ])
        let config = try withTree(files) { try $0.load().get() }
        #expect(config.proxy.listeners.map(\.role) == [.sidecar, .gateway])
        #expect(config.links.map(\.probe.periodMillis) == [500])
        #expect(config.links.map(\.probe.timeoutMillis) == [500])
        #expect(config.links.map(\.probe.failureThreshold) == [3])
    }

    @Test("Links are listed by cluster, whatever the file order")
    func linkOrder() throws {
        let files = meshFiles([
            "mesh/a.yaml": replacing(replacing(linkYAML(), "  cluster: cluster2", "  cluster: cluster3"), "  name: cluster2", "  name: z"),
            "mesh/b.yaml": linkYAML(),
        ])
        let config = try withTree(files) { try $0.load().get() }
        #expect(config.links.map(\.cluster) == ["cluster2", "cluster3"])
        #expect(config.links.map(\.name) == ["cluster2", "z"])
    }
}
