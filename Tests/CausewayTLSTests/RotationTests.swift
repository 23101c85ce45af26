import CausewayTLS
import Foundation
import XCTest

/// The rotation steps certs/README.md describes keep the mesh connected.
final class RotationTests: XCTestCase {
    func testBundleWithOldAndNewRootTrustsBoth() throws {
        let pki = TestPKI.shared
        let bundle = pki.directory + "/bundle-\(UUID().uuidString).pem"
        let roots = try String(contentsOfFile: pki.layout.rootCertificatePath, encoding: .utf8)
            + String(contentsOfFile: pki.directory + "/rogue/root.pem", encoding: .utf8)
        try roots.write(toFile: bundle, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bundle) }

        let server = try pki.gatewayServer { $0.trustBundlePath = bundle }
        for (cluster, name) in [("cluster1", "proxy"), ("rogue", "proxy")] {
            let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient(cluster, name)), server: TLSConnection(context: server))
            XCTAssertEqual(pump.handshake().server, .complete, cluster)
            XCTAssertEqual(pump.server.peerIdentity, pki.proxyID, cluster)
        }
    }

    func testLeavesOfAReplacedIntermediateKeepWorking() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let now = Date()
        _ = try pki.layout.createIntermediate(cluster: "cluster1", keyAlgorithm: .ecP256, validity: .days(500, from: now), force: true)
        _ = try pki.layout.issue(cluster: "cluster1", name: "fresh", spiffeID: pki.proxyID, keyAlgorithm: .ecP256, validity: .days(30, from: now), force: false)

        let server = try pki.gatewayServer()
        for name in ["proxy", "fresh"] {  // issued by the old and by the new intermediate
            let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient("cluster1", name)), server: TLSConnection(context: server))
            XCTAssertEqual(pump.handshake().server, .complete, name)
        }
    }

    func testReloadedServerPresentsItsNewCertificate() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let before = try pki.gatewayServer()
        let other = try SPIFFEID(parsing: "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway-v2")
        _ = try pki.layout.issue(cluster: "cluster2", name: "gateway", spiffeID: other, keyAlgorithm: .ecP256, validity: .days(30, from: Date()), force: true)
        let after = try pki.gatewayServer()
        XCTAssertEqual(before.localIdentity, pki.gatewayID)
        XCTAssertEqual(after.localIdentity, other)

        let client = try pki.sidecarClient()
        let old = TLSPump(client: TLSConnection(context: client), server: TLSConnection(context: before))
        XCTAssertEqual(old.handshake().client, .complete)
        XCTAssertEqual(old.client.peerIdentity, pki.gatewayID)
        let new = TLSPump(client: TLSConnection(context: client), server: TLSConnection(context: after))
        XCTAssertEqual(new.handshake().client, .complete)
        XCTAssertEqual(new.client.peerIdentity, other)
    }
}
