import CausewayHTTP
import CausewayMesh
import CausewayProxy
import Foundation
import Testing
@testable import CausewayApp

#if canImport(Glibc)
import Glibc
#endif

/// A complete configuration: every Proxy field, slices in the config file, a resources folder
/// (with files that must be skipped), a single resource file, and the config's own folder; a
/// mirrored slice with its Link, and an export. (`MultiClusterConfigTests` covers two clusters.)
private func fullExample(root: String) -> [String: String] {
    [
        "causeway.yaml": """
            # Causeway config for cluster1.
            apiVersion: causeway.dev/v1alpha1
            kind: Proxy
            metadata:
              name: cluster1-proxy
              labels: { app.kubernetes.io/name: causeway }
            spec:
              cluster: cluster1
              trustDomain: mesh.local
              namespace: production
              workers: 2
              tls:
                trustBundle: certs/root.pem
                certificateChain: ./certs/cluster1/chain.pem
                privateKey: \(root)/certs/cluster1/key.pem
                rotationGracePeriod: 45s
              listeners:
              - { name: outbound, role: sidecar, address: "127.0.0.1:15001", accessLog: true }
              - { name: outbound-v6, role: sidecar, address: "[0:0::1]:15001" }
              - { name: test-a, role: sidecar, address: "127.0.0.1:0" }
              - { name: test-b, role: sidecar, address: "127.0.0.1:0", accessLog: no }
              admin: { address: "127.0.0.1:15000" }
              http2: { maxConcurrentStreams: 128, initialStreamWindow: 65535, connectionWindow: 2147483647, maxHeaderListSize: 32768, maxHeaderFields: 64 }
              upstream: { connectTimeout: 250ms, idleTimeout: 2m, maxConnectionsPerEndpoint: 8 }
              timeouts: { requestHeaders: 5s, streamIdle: 1m, request: 30s, drain: 20s, maxConnectionAge: 720h, idle: 90s, handshake: 2s }
              limits: { maxConnectionsPerWorker: 5000, maxBufferedResponseBytesPerConnection: 8388608 }
              resources: [ mesh/, extra/frontend.yml, ./ ]
              watch: false
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: billing-abc12
              labels: { kubernetes.io/service-name: billing }
            addressType: IPv4
            ports: [ { port: 7000 } ]
            endpoints:
            - addresses: [ "10.2.0.1" ]
            ---
            apiVersion: multicluster.x-k8s.io/v1alpha1
            kind: ServiceExport
            metadata: { name: billing }

            """,
        // As `kubectl get endpointslice -o yaml` prints it.
        "mesh/webapp-1.yaml": """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: webapp-1
              namespace: production
              uid: 0b7e1c7e-1d2a-4c59-9d7e-000000000001
              resourceVersion: "12345"
              generation: 3
              creationTimestamp: "2024-05-01T10:00:00Z"
              generateName: webapp-
              ownerReferences:
              - { apiVersion: v1, kind: Service, name: webapp, uid: 1111, controller: true, blockOwnerDeletion: true }
              labels:
                kubernetes.io/service-name: webapp
                endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
              annotations:
                endpoints.kubernetes.io/last-change-trigger-time: "2024-05-01T10:00:00Z"
            addressType: IPv4
            ports:
            - name: metrics
              port: 9100
              protocol: TCP
            - name: http
              port: 8080
              protocol: TCP
              appProtocol: kubernetes.io/h2c
            endpoints:
            - addresses: [ "10.1.0.6" ]
              conditions: { ready: true, serving: true, terminating: false }
              nodeName: node-1
              zone: zone-a
              targetRef: { kind: Pod, namespace: production, name: webapp-6f7d-1, uid: abc }
              hints: { forZones: [ { name: zone-a } ] }
            - addresses: [ "10.1.0.5" ]
            - addresses: [ "10.1.0.7" ]
              conditions: { ready: false, serving: true, terminating: true }

            """,
        "mesh/webapp-2.yaml": """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: webapp-2
              namespace: production
              labels: { kubernetes.io/service-name: webapp }
            addressType: IPv4
            ports:
            - { name: dns, port: 53, protocol: UDP }
            - { name: http, port: 8080 }
            endpoints:
            - addresses: [ "10.1.0.5" ]   # also in webapp-1: counted once
            - addresses: [ "10.1.0.10" ]
              conditions: { ready: yes }

            """,
        "mesh/mirror.yaml": """
            # Mirrored from cluster2 by an outside controller.
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: webapp-cluster2-1
              namespace: production
              labels:
                kubernetes.io/service-name: webapp-cluster2
                multicluster.kubernetes.io/source-cluster: cluster2
            addressType: IPv6
            ports: [ { name: http, port: 8443, appProtocol: http2 } ]
            endpoints:
            - addresses: [ "2001:DB8::0010", "2001:db8::11" ]
            ---

            """,
        "mesh/links.yaml": """
            apiVersion: causeway.dev/v1alpha1
            kind: Link
            metadata: { name: cluster2-east, namespace: mesh-system, uid: 42 }
            spec:
              cluster: cluster2
              gateways: [ "[2001:db8::10]:8443", "10.0.2.10:15443" ]
              identity: spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway
              probe: { period: 10s, failureThreshold: 5, timeout: 2s }

            """,
        "mesh/notes.txt": "not YAML: skipped",
        "mesh/.hidden.yaml": "kind: [ broken: skipped because hidden",
        "mesh/sub/deep.yaml": "kind: [ broken: skipped because folders are not recursive",
        "extra/frontend.yml": """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: { name: frontend-1, labels: { kubernetes.io/service-name: frontend } }
            addressType: IPv4
            endpoints: []

            """,
        "certs/root.pem": "root",
        "certs/cluster1/chain.pem": "chain",
        "certs/cluster1/key.pem": "key",
    ]
}

@Suite("Valid configurations")
struct ValidConfigTests {
    @Test("a full example loads with every field, merged slices and resolvable names")
    func fullExampleLoads() throws {
        let tree = try ConfigTree([:])
        defer { tree.remove() }
        for (path, contents) in fullExample(root: tree.root) { try tree.write(path, contents) }
        let config = try tree.load().get()
        let proxy = config.proxy
        let root = tree.root

        #expect(proxy.name == "cluster1-proxy")
        #expect(proxy.cluster == "cluster1")
        #expect(proxy.trustDomain == "mesh.local")
        #expect(proxy.namespace == "production")
        #expect(proxy.workers == 2)
        #expect(proxy.tls?.trustBundle == root + "/certs/root.pem")
        #expect(proxy.tls?.certificateChain == root + "/certs/cluster1/chain.pem")
        #expect(proxy.tls?.privateKey == root + "/certs/cluster1/key.pem")
        #expect(proxy.tls?.rotationGracePeriodNanos == 45_000_000_000)
        #expect(proxy.watch == false)
        #expect(config.folders == [root + "/mesh", root])
        #expect(proxy.listeners.map(\.name) == ["outbound", "outbound-v6", "test-a", "test-b"])
        #expect(proxy.listeners.map(\.address.description) == ["127.0.0.1:15001", "[::1]:15001", "127.0.0.1:0", "127.0.0.1:0"])
        #expect(proxy.listeners.allSatisfy { $0.role == .sidecar })
        #expect(proxy.listeners.map(\.accessLog) == [true, false, false, false])
        #expect(proxy.listeners[1].address.host == "::1")
        #expect(proxy.admin == SocketAddressSpec("127.0.0.1:15000"))
        #expect(proxy.http2 == H2Settings(
            maxConcurrentStreams: 128, initialStreamWindow: 65_535, connectionWindow: 2_147_483_647, maxHeaderListSize: 32_768,
            maxHeaderFields: 64))
        var upstream = UpstreamSettings()
        upstream.connectTimeoutNanos = 250_000_000
        upstream.idleTimeoutNanos = 120_000_000_000
        upstream.maxConnectionsPerEndpoint = 8
        #expect(proxy.upstream == upstream)
        var timeouts = ProxyTimeouts()
        timeouts.requestHeadersNanos = 5_000_000_000
        timeouts.streamIdleNanos = 60_000_000_000
        timeouts.requestNanos = 30_000_000_000
        timeouts.drainNanos = 20_000_000_000
        timeouts.maxConnectionAgeNanos = 2_592_000_000_000_000
        timeouts.downstreamIdleNanos = 90_000_000_000
        timeouts.handshakeNanos = 2_000_000_000
        #expect(proxy.timeouts == timeouts)
        var limits = ProxyLimits()
        limits.maxDownstreamConnectionsPerWorker = 5_000
        limits.maxBufferedResponseBytesPerConnection = 8 << 20
        #expect(proxy.limits == limits)

        let services = config.services.services
        #expect(services.map(\.key.description) == ["billing.default", "frontend.default", "webapp.production", "webapp-cluster2.production"])
        #expect(services.map(\.index) == [0, 1, 2, 3])
        #expect(services[0].readyEndpoints.map(\.description) == ["10.2.0.1:7000"])
        #expect(services[1].readyEndpoints.isEmpty)
        #expect(services[1].totalEndpoints == 0)
        // Ready: both slices merged, 10.1.0.5 once, 10.1.0.7 not ready; h2c port of slice 1,
        // first TCP port of slice 2 (its UDP port is skipped).
        #expect(services[2].readyEndpoints.map(\.description) == ["10.1.0.10:8080", "10.1.0.5:8080", "10.1.0.6:8080"])
        #expect(services[2].totalEndpoints == 4)
        #expect(services[2].sourceCluster == nil)
        #expect(services[3].readyEndpoints.map(\.description) == ["[2001:db8::10]:8443", "[2001:db8::11]:8443"])
        #expect(services[3].readyEndpoints.allSatisfy { $0.family == .ipv6 })
        #expect(services[3].sourceCluster == "cluster2")
        #expect(services[3].remoteName == ServiceKey(namespace: "production", name: "webapp"))
        #expect(services[3].expectedIdentity == "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway")
        #expect(services.map(\.exported) == [true, false, false, false])
        #expect(config.exports == [ServiceKey(namespace: "default", name: "billing")])

        #expect(config.links.count == 1)
        let link = try #require(config.links.first)
        #expect(link.name == "cluster2-east")
        #expect(link.cluster == "cluster2")
        #expect(link.gateways.map(\.description) == ["[2001:db8::10]:8443", "10.0.2.10:15443"])
        #expect(link.gatewayEndpoints.map(\.description) == ["[2001:db8::10]:8443", "10.0.2.10:15443"])
        #expect(link.identity == "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway")
        var probe = LinkProbe()
        probe.periodMillis = 10_000
        probe.failureThreshold = 5
        probe.timeoutMillis = 2_000
        #expect(link.probe == probe)

        let table = config.services
        #expect(table.resolve(authority: "webapp") == 2)
        #expect(table.resolve(authority: "webapp.production.svc.cluster.local:8080") == 2)
        #expect(table.resolve(authority: "webapp-cluster2") == 3)
        #expect(table.resolve(authority: "billing") == nil)
        #expect(table.resolve(authority: "billing.default") == 0)
        #expect(table.resolve(authority: "frontend.default.svc") == 1)
        #expect(table.resolveExported(authority: "billing.default") == 0)
        #expect(table.resolveExported(authority: "webapp.production") == nil)

        // Each file once, in read order; the config's own folder adds nothing.
        #expect(config.files == ["causeway.yaml", "mesh/links.yaml", "mesh/mirror.yaml", "mesh/webapp-1.yaml", "mesh/webapp-2.yaml", "extra/frontend.yml"]
            .map { root + "/" + $0 })

        #expect(EffectiveConfig.json(config) == """
            {
              "proxy": {
                "name": "cluster1-proxy",
                "cluster": "cluster1",
                "trustDomain": "mesh.local",
                "namespace": "production",
                "workers": 2,
                "watch": false,
                "tls": {
                  "trustBundle": "\(root)/certs/root.pem",
                  "certificateChain": "\(root)/certs/cluster1/chain.pem",
                  "privateKey": "\(root)/certs/cluster1/key.pem",
                  "rotationGracePeriodMillis": 45000
                },
                "http2": {
                  "maxConcurrentStreams": 128,
                  "initialStreamWindow": 65535,
                  "connectionWindow": 2147483647,
                  "maxHeaderListSize": 32768,
                  "maxHeaderFields": 64
                },
                "upstream": {
                  "connectTimeoutMillis": 250,
                  "idleTimeoutMillis": 120000,
                  "maxConnectionsPerEndpoint": 8
                },
                "timeouts": {
                  "requestHeadersMillis": 5000,
                  "streamIdleMillis": 60000,
                  "requestMillis": 30000,
                  "drainMillis": 20000,
                  "maxConnectionAgeMillis": 2592000000,
                  "idleMillis": 90000,
                  "handshakeMillis": 2000
                },
                "limits": {
                  "maxConnectionsPerWorker": 5000,
                  "maxBufferedResponseBytesPerConnection": 8388608
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
                  "accessLog": true
                },
                {
                  "name": "outbound-v6",
                  "role": "sidecar",
                  "address": "[::1]:15001",
                  "accessLog": false
                },
                {
                  "name": "test-a",
                  "role": "sidecar",
                  "address": "127.0.0.1:0",
                  "accessLog": false
                },
                {
                  "name": "test-b",
                  "role": "sidecar",
                  "address": "127.0.0.1:0",
                  "accessLog": false
                }
              ],
              "admin": {
                "address": "127.0.0.1:15000"
              },
              "dns": null,
              "links": [
                {
                  "name": "cluster2-east",
                  "cluster": "cluster2",
                  "gateways": [
                    "[2001:db8::10]:8443",
                    "10.0.2.10:15443"
                  ],
                  "identity": "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway",
                  "probe": {
                    "periodMillis": 10000,
                    "timeoutMillis": 2000,
                    "failureThreshold": 5
                  }
                }
              ],
              "exports": [
                "billing.default"
              ],
              "services": [
                {
                  "index": 0,
                  "name": "billing",
                  "namespace": "default",
                  "exported": true,
                  "sourceCluster": null,
                  "remoteName": null,
                  "expectedIdentity": null,
                  "totalEndpoints": 1,
                  "readyEndpoints": [
                    "10.2.0.1:7000"
                  ]
                },
                {
                  "index": 1,
                  "name": "frontend",
                  "namespace": "default",
                  "exported": false,
                  "sourceCluster": null,
                  "remoteName": null,
                  "expectedIdentity": null,
                  "totalEndpoints": 0,
                  "readyEndpoints": []
                },
                {
                  "index": 2,
                  "name": "webapp",
                  "namespace": "production",
                  "exported": false,
                  "sourceCluster": null,
                  "remoteName": null,
                  "expectedIdentity": null,
                  "totalEndpoints": 4,
                  "readyEndpoints": [
                    "10.1.0.10:8080",
                    "10.1.0.5:8080",
                    "10.1.0.6:8080"
                  ]
                },
                {
                  "index": 3,
                  "name": "webapp-cluster2",
                  "namespace": "production",
                  "exported": false,
                  "sourceCluster": "cluster2",
                  "remoteName": "webapp.production",
                  "expectedIdentity": "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway",
                  "totalEndpoints": 2,
                  "readyEndpoints": [
                    "[2001:db8::10]:8443",
                    "[2001:db8::11]:8443"
                  ]
                }
              ],
              "routes": [],
              "destinationRules": [],
              "authorizationPolicies": [],
              "files": [
                "\(root)/causeway.yaml",
                "\(root)/mesh/links.yaml",
                "\(root)/mesh/mirror.yaml",
                "\(root)/mesh/webapp-1.yaml",
                "\(root)/mesh/webapp-2.yaml",
                "\(root)/extra/frontend.yml"
              ],
              "folders": [
                "\(root)/mesh",
                "\(root)"
              ],
              "lastReload": null,
              "notes": []
            }

            """)
    }

    @Test("a minimal Proxy gets every default")
    func defaults() throws {
        let config = try withTree(["causeway.yaml": proxyYAML()]) { tree in
            (try tree.load(defaultWorkers: 5).get(), tree.root)
        }
        let proxy = config.0.proxy
        #expect(proxy.trustDomain == "cluster.local")
        #expect(proxy.namespace == "default")
        #expect(proxy.workers == 5)
        #expect(proxy.admin.description == "127.0.0.1:15000")
        #expect(proxy.tls == nil)
        #expect(proxy.http2 == H2Settings())
        #expect(proxy.http2.maxConcurrentStreams == 256)
        #expect(proxy.http2.initialStreamWindow == 1 << 20)
        #expect(proxy.http2.connectionWindow == 16 << 20)
        #expect(proxy.http2.maxHeaderListSize == 65_536)
        #expect(proxy.http2.maxHeaderFields == 100)
        #expect(proxy.upstream == UpstreamSettings())
        #expect(proxy.upstream.connectTimeoutNanos == 1_000_000_000)
        #expect(proxy.upstream.idleTimeoutNanos == 60_000_000_000)
        #expect(proxy.upstream.maxConnectionsPerEndpoint == 64)
        #expect(proxy.timeouts == ProxyTimeouts())
        #expect(proxy.limits == ProxyLimits())
        #expect(proxy.listeners.map(\.accessLog) == [false])
        #expect(config.0.services.services.isEmpty)
        #expect(config.0.links.isEmpty)
        #expect(config.0.exports.isEmpty)
        #expect(config.0.services.defaultNamespace == "default")
        #expect(config.0.files == [config.1 + "/causeway.yaml"])
    }

    @Test("null values read as absent, so defaults apply")
    func nullsAreAbsent() throws {
        let proxy = try withTree(["causeway.yaml": proxyYAML("  tls:\n  admin: ~\n  workers: null\n  resources:\n")]) { tree in
            try tree.load(defaultWorkers: 3).get().proxy
        }
        #expect(proxy.tls == nil)
        #expect(proxy.admin.description == "127.0.0.1:15000")
        #expect(proxy.workers == 3)
    }

    @Test("the public entry point defaults workers to the online CPUs")
    func publicLoad() throws {
        let proxy = try withTree(["causeway.yaml": proxyYAML()]) { tree in
            try ConfigLoader.load(path: tree.root + "/causeway.yaml").proxy
        }
        #expect(proxy.workers == min(max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1), 256))
    }

    @Test("a config directory is read in name order; resources resolve against the Proxy's file")
    func configDirectory() throws {
        let files = [
            "conf/10-proxy.yaml": proxyYAML("  resources: [ ../mesh ]\n"),
            "conf/20-slices.yml": sliceYAML(),
            "conf/skip.txt": "ignored",
            "mesh/mirror.yaml": sliceYAML().replacingOccurrences(of: "webapp", with: "api"),
        ]
        let result = try withTree(files) { tree in (try tree.load("conf").get(), tree.root) }
        let (config, root) = result
        #expect(config.services.services.map(\.key.description) == ["api.production", "webapp.production"])
        #expect(config.files == [root + "/conf/10-proxy.yaml", root + "/conf/20-slices.yml", root + "/mesh/mirror.yaml"])
    }

    @Test("problems in a config directory name the file inside it")
    func configDirectoryProblems() throws {
        let files = ["conf/10-proxy.yaml": proxyYAML(), "conf/20-slices.yaml": sliceYAML().replacingOccurrences(of: "IPv4", with: "IPv7")]
        let problems = try withTree(files) { $0.problems("conf/") }
        #expect(problems == ["conf/20-slices.yaml:8:14: addressType: unknown addressType \"IPv7\"; expected IPv4 or IPv6"])
    }

    @Test("relative paths are shown joined to the directory of the file naming them")
    func displayPaths() throws {
        let files = [
            "deploy/causeway.yaml": proxyYAML("  resources: [ ./mesh/a.yaml, ../shared/ ]\n"),
            "deploy/mesh/a.yaml": sliceYAML().replacingOccurrences(of: "IPv4", with: "FQDN"),
            "shared/b.yaml": "kind: Gateway\n",
        ]
        let problems = try withTree(files) { $0.problems("./deploy//causeway.yaml") }
        #expect(problems == [
            "deploy/mesh/a.yaml:8:14: addressType: addressType FQDN is not supported; use IPv4 or IPv6",
            "deploy/../shared/b.yaml:1:7: kind: unknown kind Gateway (apiVersion missing)",
        ])
    }

    @Test("an absolute resource path is used as is")
    func absoluteResource() throws {
        let config = try withTree(["other/s.yaml": sliceYAML()]) { tree in
            try tree.write("causeway.yaml", proxyYAML("  resources: [ \(tree.root)/other/s.yaml ]\n"))
            return try tree.load().get()
        }
        #expect(config.services.services.map(\.key.name) == ["webapp"])
    }
}
