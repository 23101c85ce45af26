import Foundation
import CausewayTLS

/// Certificates for a two-cluster mesh, made with the project's own certificate tooling
/// (`CertsLayout`, the code behind `causeway certs`), plus deliberately bad ones.
final class MeshPKI {
    static let trustDomain = "mesh.local"
    static let sidecarID = "spiffe://mesh.local/ns/default/sa/cluster1-sidecar"
    static let gatewayID = "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway"

    let layout: CertsLayout
    let directory: String

    init(dir: TempDir) throws {
        directory = dir.path("certs")
        layout = CertsLayout(directory: directory)
        let year = Validity.days(365, from: Date())
        _ = try layout.createRoot(keyAlgorithm: .ecP256, validity: Validity.days(3650, from: Date()), force: false)
        for cluster in ["cluster1", "cluster2"] {
            _ = try layout.createIntermediate(cluster: cluster, keyAlgorithm: .ecP256, validity: Validity.days(1825, from: Date()), force: false)
        }
        _ = try layout.issue(cluster: "cluster1", name: "sidecar", spiffeID: SPIFFEID(parsing: Self.sidecarID),
                             keyAlgorithm: .ecP256, validity: year, force: false)
        _ = try layout.issue(cluster: "cluster2", name: "gateway", spiffeID: SPIFFEID(parsing: Self.gatewayID),
                             alternativeNames: [.ip("127.0.0.1")], keyAlgorithm: .ecP256, validity: year, force: false)
    }

    var rootPath: String { layout.rootCertificatePath }
    func chain(_ cluster: String, _ name: String) -> String { layout.chainPath(cluster: cluster, name: name) }
    func key(_ cluster: String, _ name: String) -> String { layout.keyPath(cluster: cluster, name: name) }

    /// Issues a client certificate in cluster1 named `name` with `spiffeID` (nil: no URI SAN)
    /// and `validity`.
    func issueClient(_ name: String, spiffeID: String?, validity: Validity = .days(30, from: Date())) throws {
        _ = try layout.issue(cluster: "cluster1", name: name, spiffeID: spiffeID.map { try SPIFFEID(parsing: $0) },
                             keyAlgorithm: .ecP256, validity: validity, force: true)
    }

    /// A whole separate root with a cluster and a client cert: trusted by nobody here.
    func foreignClient(dir: TempDir) throws -> (chain: String, key: String) {
        let other = CertsLayout(directory: dir.path("foreign-certs"))
        _ = try other.createRoot(keyAlgorithm: .ecP256, validity: .days(3650, from: Date()), force: false)
        _ = try other.createIntermediate(cluster: "cluster1", keyAlgorithm: .ecP256, validity: .days(1825, from: Date()), force: false)
        _ = try other.issue(cluster: "cluster1", name: "impostor", spiffeID: SPIFFEID(parsing: Self.sidecarID),
                            keyAlgorithm: .ecP256, validity: .days(30, from: Date()), force: false)
        return (other.chainPath(cluster: "cluster1", name: "impostor"), other.keyPath(cluster: "cluster1", name: "impostor"))
    }
}

/// cluster2: nghttpd behind a Causeway gateway that exports `webapp.production`.
/// cluster1: a Causeway sidecar with a Link to that gateway and a mirrored `webapp-cluster2`.
final class TwoClusterMesh {
    let pki: MeshPKI
    let backend: NghttpdBackend
    private(set) var gateway: TestProcess
    private let gatewayConfig: String
    let gatewayPort: UInt16
    let gatewayAdminPort: UInt16
    let sidecar: TestProcess
    let sidecarPort: UInt16
    let sidecarAdminPort: UInt16

    /// - Parameters:
    ///   - expectedGatewayID: what cluster1's Link expects cluster2's gateway to be.
    ///   - backendArgs: extra nghttpd flags (`-v` to see forwarded headers).
    ///   - probe: the Link's `probe` block (flow style), or empty for the defaults.
    ///   - gatewayTLS: more fields of the gateway's `spec.tls` (flow style, each with a
    ///     leading comma), e.g. `, rotationGracePeriod: 1s`.
    ///   - trustBundle: both proxies' `trustBundle` (default: the root, `pki.rootPath`).
    init(dir: TempDir, docroot: String, expectedGatewayID: String = MeshPKI.gatewayID, backendArgs: [String] = [],
         probe: String = "", gatewayTLS: String = "", trustBundle: ((MeshPKI) throws -> String)? = nil) throws {
        pki = try MeshPKI(dir: dir)
        let bundle = try trustBundle?(pki) ?? pki.rootPath
        backend = try NghttpdBackend(docroot: docroot, extra: backendArgs)
        gatewayPort = Ports.free()
        gatewayAdminPort = Ports.free()
        try dir.write("cluster2/gateway.yaml", """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: cluster2-gateway }
        spec:
          cluster: cluster2
          trustDomain: \(MeshPKI.trustDomain)
          workers: 2
          tls: { trustBundle: "\(bundle)", certificateChain: "\(pki.chain("cluster2", "gateway"))", privateKey: "\(pki.key("cluster2", "gateway"))"\(gatewayTLS) }
          listeners:
          - { name: east-west, role: gateway, address: "127.0.0.1:\(gatewayPort)" }
          admin: { address: "127.0.0.1:\(gatewayAdminPort)" }
        ---
        apiVersion: multicluster.x-k8s.io/v1alpha1
        kind: ServiceExport
        metadata: { name: webapp, namespace: production }
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: webapp-1, namespace: production, labels: { kubernetes.io/service-name: webapp } }
        addressType: IPv4
        ports: [ { name: http, port: \(backend.port), protocol: TCP, appProtocol: kubernetes.io/h2c } ]
        endpoints: [ { addresses: [ "127.0.0.1" ], conditions: { ready: true } } ]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: secret-1, namespace: production, labels: { kubernetes.io/service-name: secret } }
        addressType: IPv4
        ports: [ { name: http, port: \(backend.port), protocol: TCP, appProtocol: kubernetes.io/h2c } ]
        endpoints: [ { addresses: [ "127.0.0.1" ], conditions: { ready: true } } ]

        """)
        gatewayConfig = dir.path("cluster2/gateway.yaml")
        gateway = try TestProcess("gateway", executable: try causewayBinary(), arguments: ["run", "--config", gatewayConfig])
        try Ports.waitListening(gatewayPort, process: gateway)

        sidecarPort = Ports.free()
        sidecarAdminPort = Ports.free()
        var mirrors = ""
        for name in ["webapp", "secret", "ghost"] {
            mirrors += """
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: \(name)-cluster2-1
              namespace: production
              labels: { kubernetes.io/service-name: \(name)-cluster2, multicluster.kubernetes.io/source-cluster: cluster2 }
            addressType: IPv4
            ports: [ { name: http, port: \(gatewayPort), protocol: TCP, appProtocol: kubernetes.io/h2c } ]
            endpoints: [ { addresses: [ "127.0.0.1" ], conditions: { ready: true } } ]

            """
        }
        try dir.write("cluster1/sidecar.yaml", """
        apiVersion: causeway.dev/v1alpha1
        kind: Proxy
        metadata: { name: cluster1-sidecar }
        spec:
          cluster: cluster1
          trustDomain: \(MeshPKI.trustDomain)
          namespace: production
          workers: 2
          tls: { trustBundle: "\(bundle)", certificateChain: "\(pki.chain("cluster1", "sidecar"))", privateKey: "\(pki.key("cluster1", "sidecar"))" }
          listeners:
          - { name: outbound, role: sidecar, address: "127.0.0.1:\(sidecarPort)" }
          admin: { address: "127.0.0.1:\(sidecarAdminPort)" }
        ---
        apiVersion: causeway.dev/v1alpha1
        kind: Link
        metadata: { name: cluster2 }
        spec:
          cluster: cluster2
          gateways: [ "127.0.0.1:\(gatewayPort)" ]
          identity: \(expectedGatewayID)
        \(probe.isEmpty ? "" : "  probe: \(probe)")
        \(mirrors)
        """)
        sidecar = try TestProcess("sidecar", executable: try causewayBinary(), arguments: ["run", "--config", dir.path("cluster1/sidecar.yaml")])
        try Ports.waitListening(sidecarPort, process: sidecar)
    }

    /// Stops cluster2's gateway (the link is lost).
    func stopGateway() { gateway.stop() }

    /// Starts cluster2's gateway again on the same port.
    func startGateway() throws {
        gateway = try TestProcess("gateway", executable: try causewayBinary(), arguments: ["run", "--config", gatewayConfig])
        try Ports.waitListening(gatewayPort, process: gateway)
    }

    func stop() {
        sidecar.stop()
        gateway.stop()
        backend.stop()
    }

    var sidecarURL: String { "http://127.0.0.1:\(sidecarPort)" }
    var gatewayURL: String { "https://127.0.0.1:\(gatewayPort)" }

    func admin(_ port: UInt16, _ path: String) throws -> String {
        try runCommand("curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(port)\(path)"]).stdoutText
    }
}
