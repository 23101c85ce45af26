import CausewayTLS
import Foundation
import XCTest

/// Every bad peer is refused during the handshake, with the reason metrics and logs use.
/// For client certificates, the gateway (server) is the side whose reason matters; in TLS 1.3
/// the client has already finished its half, and learns of the refusal by the alert on its
/// next read.
final class RefusalTests: XCTestCase {
    let pki = TestPKI.shared

    /// Handshakes a client presenting `cluster/name` with the gateway and returns the
    /// server's reason and what the client saw (its handshake, or its next read).
    private func refuseClient(_ cluster: String, _ name: String?, file: StaticString = #filePath, line: UInt = #line) throws
        -> (server: TLSError?, client: TLSFailureReason?)
    {
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient(cluster, name)), server: TLSConnection(context: try pki.gatewayServer()))
        let (client, server) = pump.handshake()
        guard case .failed(let serverError) = server else {
            XCTFail("server accepted the client: \(server)", file: file, line: line)
            return (nil, nil)
        }
        XCTAssertNil(pump.server.peerIdentity, file: file, line: line)
        if let reason = TLSPump.reason(client) { return (serverError, reason) }
        return (serverError, TLSPump.reason(TLSPump.readAll(pump.client).end))
    }

    func testClientWithoutCertificate() throws {
        let (server, client) = try refuseClient("cluster1", nil)
        XCTAssertEqual(server?.reason, .noPeerCertificate)
        XCTAssertEqual(client, .peerRejectedCertificate)
    }

    func testExpiredClientCertificate() throws {
        let (server, client) = try refuseClient("cluster1", "expired")
        XCTAssertEqual(server?.reason, .certificateExpired)
        XCTAssertTrue(server?.detail.contains("expired") ?? false, server?.detail ?? "")
        XCTAssertEqual(client, .peerRejectedCertificate)
    }

    func testNotYetValidClientCertificate() throws {
        let (server, _) = try refuseClient("cluster1", "future")
        XCTAssertEqual(server?.reason, .certificateNotYetValid)
    }

    func testClientCertificateFromAnotherRoot() throws {
        let (server, client) = try refuseClient("rogue", "proxy")
        XCTAssertEqual(server?.reason, .unknownCA)
        XCTAssertEqual(client, .peerRejectedCertificate)
    }

    func testClientCertificateWithoutURISAN() throws {
        let (server, client) = try refuseClient("cluster1", "no-uri")
        XCTAssertEqual(server?.reason, .noSPIFFEID)
        XCTAssertEqual(client, .peerRejectedCertificate)
    }

    func testClientCertificateWithTwoSPIFFEIDs() throws {
        let (server, _) = try refuseClient("cluster1", "two-ids")
        XCTAssertEqual(server?.reason, .invalidSPIFFEID)
    }

    func testClientCertificateWithASecondURISANIsRefused() throws {
        // A valid, expected SPIFFE ID, but an X.509 SVID has exactly one URI SAN.
        let (server, client) = try refuseClient("cluster1", "extra-uri")
        XCTAssertEqual(server?.reason, .invalidSPIFFEID)
        XCTAssertTrue(server?.detail.contains("2 URI SANs") ?? false, server?.detail ?? "")
        XCTAssertEqual(client, .peerRejectedCertificate)
    }

    func testClientFromAnotherTrustDomain() throws {
        let (server, client) = try refuseClient("cluster1", "foreign")
        XCTAssertEqual(server?.reason, .foreignTrustDomain)
        XCTAssertTrue(server?.detail.contains("spiffe://other.example/ns/production/sa/webapp") ?? false, server?.detail ?? "")
        XCTAssertEqual(client, .peerRejectedCertificate)
    }

    func testCertificateAuthorityPresentedAsLeafIsRefused() throws {
        // cluster1's intermediate (CA:TRUE, no SPIFFE ID) with its own key as a client "leaf".
        let layout = pki.layout
        let configuration = TLSConfiguration(
            role: .client, trustDomain: pki.trustDomain, trustBundlePath: layout.rootCertificatePath,
            certificateChainPath: layout.intermediateCertificatePath(cluster: "cluster1"),
            privateKeyPath: layout.intermediateKeyPath(cluster: "cluster1"))
        let pump = TLSPump(client: TLSConnection(context: try TLSContext(configuration)), server: TLSConnection(context: try pki.gatewayServer()))
        let (_, server) = pump.handshake()
        XCTAssertEqual(TLSPump.reason(server), .badCertificate)
    }

    // MARK: The client refuses the server

    func testExpiredGatewayCertificateIsRefusedByTheClient() throws {
        let server = try TLSContext(pki.configuration(.server, identity: pki.identity("cluster1", "expired")))
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: server))
        let (client, serverState) = pump.handshake()
        XCTAssertEqual(TLSPump.reason(client), .certificateExpired)
        XCTAssertEqual(TLSPump.reason(serverState), .peerRejectedCertificate)
    }

    func testGatewayFromAnotherRootIsRefusedByTheClient() throws {
        let server = try TLSContext(pki.configuration(.server, identity: pki.identity("rogue", "proxy")))
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: server))
        XCTAssertEqual(TLSPump.reason(pump.handshake().client), .unknownCA)
    }

    func testGatewayWithUnexpectedIdentityIsRefusedByTheClient() throws {
        // A valid mesh certificate, but not the gateway the Link names.
        let expected = try SPIFFEID(parsing: "spiffe://mesh.local/ns/mesh-system/sa/cluster3-gateway")
        let pump = TLSPump(
            client: TLSConnection(context: try pki.sidecarClient(), expectedPeer: expected),
            server: TLSConnection(context: try pki.gatewayServer())
        )
        let (client, server) = pump.handshake()
        guard case .failed(let error) = client else { return XCTFail("client accepted \(String(describing: pump.client.peerIdentity))") }
        XCTAssertEqual(error.reason, .identityMismatch)
        XCTAssertTrue(error.detail.contains("cluster2-gateway") && error.detail.contains("cluster3-gateway"), error.detail)
        XCTAssertNil(pump.client.peerIdentity)
        XCTAssertEqual(TLSPump.reason(server), .peerRejectedCertificate)
    }

    func testGatewayWithASecondURISANIsRefusedByTheClient() throws {
        let server = try TLSContext(pki.configuration(.server, identity: pki.identity("cluster1", "extra-uri")))
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient(), expectedPeer: pki.proxyID), server: TLSConnection(context: server))
        XCTAssertEqual(TLSPump.reason(pump.handshake().client), .invalidSPIFFEID)
        XCTAssertNil(pump.client.peerIdentity)
    }

    func testGatewayFromAnotherTrustDomainIsRefusedByTheClient() throws {
        let server = try TLSContext(pki.configuration(.server, identity: pki.identity("cluster1", "foreign")))
        let pump = TLSPump(client: TLSConnection(context: try pki.sidecarClient()), server: TLSConnection(context: server))
        XCTAssertEqual(TLSPump.reason(pump.handshake().client), .foreignTrustDomain)
    }

    // MARK: ALPN

    func testServerThatDoesNotOfferH2() throws {
        let pump = TLSPump(
            client: TLSConnection(context: try pki.sidecarClient()),
            server: TLSConnection(context: try pki.gatewayServer { $0.applicationProtocols = ["http/1.1"] })
        )
        let (client, server) = pump.handshake()
        XCTAssertEqual(TLSPump.reason(server), .alpnNotH2)
        XCTAssertEqual(TLSPump.reason(client), .alpnNotH2)
    }

    func testServerWithoutALPNIsRefusedByTheClient() throws {
        let pump = TLSPump(
            client: TLSConnection(context: try pki.sidecarClient()),
            server: TLSConnection(context: try pki.gatewayServer { $0.applicationProtocols = [] })
        )
        let (client, _) = pump.handshake()
        guard case .failed(let error) = client else { return XCTFail("client accepted a server without ALPN") }
        XCTAssertEqual(error.reason, .alpnNotH2)
        XCTAssertNil(pump.client.negotiatedALPN)
        // The client said goodbye.
        TLSPump.transfer(from: pump.client, to: pump.server)
        XCTAssertEqual(TLSPump.readAll(pump.server).end, .closed)
    }

    func testClientWithoutALPNIsRefusedByTheServer() throws {
        let pump = TLSPump(
            client: TLSConnection(context: try pki.sidecarClient { $0.applicationProtocols = [] }),
            server: TLSConnection(context: try pki.gatewayServer())
        )
        let (client, server) = pump.handshake()
        XCTAssertEqual(TLSPump.reason(server), .alpnNotH2)
        XCTAssertEqual(TLSPump.reason(client), .alpnNotH2)
    }

    func testClientOfferingOnlyHTTP1IsRefusedByTheServer() throws {
        let pump = TLSPump(
            client: TLSConnection(context: try pki.sidecarClient { $0.applicationProtocols = ["http/1.1"] }),
            server: TLSConnection(context: try pki.gatewayServer())
        )
        let (_, server) = pump.handshake()
        guard case .failed(let error) = server else { return XCTFail("server accepted http/1.1") }
        XCTAssertEqual(error.reason, .alpnNotH2)
        XCTAssertTrue(error.detail.contains("http/1.1"), error.detail)
    }

    func testTLS12OnlyServerAndTLS13OnlyClientShareNoVersion() throws {
        let pump = TLSPump(
            client: TLSConnection(context: try pki.sidecarClient { $0.minimumVersion = .tls13 }),
            server: TLSConnection(context: try pki.gatewayServer { $0.maximumVersion = .tls12 })
        )
        let (client, server) = pump.handshake()
        XCTAssertEqual(TLSPump.reason(server), .unsupportedVersion)
        XCTAssertEqual(TLSPump.reason(client), .unsupportedVersion)
    }
}
