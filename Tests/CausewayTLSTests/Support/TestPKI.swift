import CausewayTLS
import Foundation
import XCTest

/// A two-cluster certificate tree in a temporary directory, made with the tooling under test
/// (`CertsLayout`, `CertificateAuthority`), plus the bad certificates the refusal tests need.
///
/// ```
/// root.pem                       shared root (trust bundle)
/// cluster1/proxy-*               spiffe://mesh.local/ns/production/sa/webapp
/// cluster2/gateway-*             spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway
/// cluster1/expired-*             valid identity, expired yesterday
/// cluster1/future-*              valid identity, valid from tomorrow
/// cluster1/no-uri-*              DNS SAN only
/// cluster1/two-ids-*             two spiffe URI SANs
/// cluster1/extra-uri-*           the proxy's spiffe URI SAN and an https one
/// cluster1/foreign-*             spiffe://other.example/ns/production/sa/webapp
/// rogue/root.pem, rogue/evil/*   another root, its intermediate, a leaf with a mesh identity
/// ```
final class TestPKI: Sendable {
    let directory: String
    let layout: CertsLayout
    let trustDomain: TrustDomain
    let proxyID: SPIFFEID
    let gatewayID: SPIFFEID

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("causeway-tls-\(UUID().uuidString)").path
        layout = CertsLayout(directory: directory)
        trustDomain = try TrustDomain("mesh.local")
        proxyID = try SPIFFEID(parsing: "spiffe://mesh.local/ns/production/sa/webapp")
        gatewayID = try SPIFFEID(parsing: "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway")

        let now = Date()
        let year = Validity.days(365, from: now)
        _ = try layout.createRoot(keyAlgorithm: .ecP256, validity: .days(3650, from: now), force: false)
        _ = try layout.createIntermediate(cluster: "cluster1", keyAlgorithm: .ecP256, validity: .days(1000, from: now), force: false)
        _ = try layout.createIntermediate(cluster: "cluster2", keyAlgorithm: .rsa2048, validity: .days(1000, from: now), force: false)
        _ = try layout.issue(cluster: "cluster1", name: "proxy", spiffeID: proxyID, keyAlgorithm: .ecP256, validity: year, force: false)
        _ = try layout.issue(cluster: "cluster2", name: "gateway", spiffeID: gatewayID,
                             alternativeNames: [.dns("gateway.cluster2.example"), .ip("10.0.2.10")],
                             keyAlgorithm: .ecP256, validity: year, force: false)

        let day: TimeInterval = 86_400
        _ = try layout.issue(cluster: "cluster1", name: "expired", spiffeID: proxyID, keyAlgorithm: .ecP256,
                             validity: Validity(notBefore: now - 30 * day, notAfter: now - day), force: false)
        _ = try layout.issue(cluster: "cluster1", name: "future", spiffeID: proxyID, keyAlgorithm: .ecP256,
                             validity: Validity(notBefore: now + day, notAfter: now + 30 * day), force: false)
        _ = try layout.issue(cluster: "cluster1", name: "no-uri", spiffeID: nil, alternativeNames: [.dns("webapp.production.svc")],
                             keyAlgorithm: .ecP256, validity: year, force: false)
        _ = try layout.issue(cluster: "cluster1", name: "two-ids", spiffeID: proxyID,
                             alternativeNames: [.uri("spiffe://mesh.local/ns/production/sa/other")],
                             keyAlgorithm: .ecP256, validity: year, force: false)
        _ = try layout.issue(cluster: "cluster1", name: "extra-uri", spiffeID: proxyID,
                             alternativeNames: [.uri("https://webapp.production.example/")],
                             keyAlgorithm: .ecP256, validity: year, force: false)
        _ = try layout.issue(cluster: "cluster1", name: "foreign", spiffeID: SPIFFEID(parsing: "spiffe://other.example/ns/production/sa/webapp"),
                             keyAlgorithm: .ecP256, validity: year, force: false)

        let rogue = CertsLayout(directory: directory + "/rogue")
        _ = try rogue.createRoot(keyAlgorithm: .ecP256, validity: .days(3650, from: now), force: false)
        _ = try rogue.createIntermediate(cluster: "evil", keyAlgorithm: .ecP256, validity: .days(1000, from: now), force: false)
        _ = try rogue.issue(cluster: "evil", name: "proxy", spiffeID: proxyID, keyAlgorithm: .ecP256, validity: year, force: false)
    }


    /// Deletes the directory (for instances other than `shared`).
    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A leaf's files: (cluster, name) in the main layout, or "rogue" for the other root's.
    func identity(_ cluster: String, _ name: String) -> (chain: String, key: String) {
        if cluster == "rogue" {
            let rogue = CertsLayout(directory: directory + "/rogue")
            return (rogue.chainPath(cluster: "evil", name: name), rogue.keyPath(cluster: "evil", name: name))
        }
        return (layout.chainPath(cluster: cluster, name: name), layout.keyPath(cluster: cluster, name: name))
    }

    func configuration(_ role: TLSRole, identity: (chain: String, key: String)?) -> TLSConfiguration {
        TLSConfiguration(
            role: role,
            trustDomain: trustDomain,
            trustBundlePath: layout.rootCertificatePath,
            certificateChainPath: identity?.chain,
            privateKeyPath: identity?.key
        )
    }

    /// The cluster2 gateway's server context.
    func gatewayServer(_ adjust: (inout TLSConfiguration) -> Void = { _ in }) throws -> TLSContext {
        var configuration = configuration(.server, identity: identity("cluster2", "gateway"))
        adjust(&configuration)
        return try TLSContext(configuration)
    }

    /// A cluster1 sidecar's client context presenting leaf `name` (nil: no certificate).
    func sidecarClient(_ cluster: String = "cluster1", _ name: String? = "proxy", _ adjust: (inout TLSConfiguration) -> Void = { _ in }) throws -> TLSContext {
        var configuration = configuration(.client, identity: name.map { identity(cluster, $0) })
        adjust(&configuration)
        return try TLSContext(configuration)
    }

    /// Shared across test cases (generating the keys takes a moment); its directory is
    /// removed when the test process exits.
    static let shared: TestPKI = {
        do {
            let pki = try TestPKI()
            atexit { try? FileManager.default.removeItem(atPath: TestPKI.shared.directory) }
            return pki
        } catch {
            fatalError("cannot build the test PKI: \(error)")
        }
    }()
}
