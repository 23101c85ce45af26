import CausewayTLS
import Foundation
import XCTest

/// A resumed handshake verifies no chain, so the engine checks the validity period of the
/// certificate a session holds itself, at the context's clock: a session is not offered
/// (client) or accepted (server) once that certificate is out of its period, and a resumed
/// handshake that completes with one anyway is refused.
final class ResumedValidityTests: XCTestCase {
    let pki = TestPKI.shared
    let year: Int64 = 400 * ManualClock.day  // past every leaf in TestPKI

    /// Client and gateway contexts on their own clocks, a cache holding a fresh TLS 1.3
    /// session for the gateway.
    private func setUpSession() throws -> (client: TLSContext, server: TLSContext, cache: TLSSessionCache, clientTime: ManualClock, serverTime: ManualClock) {
        let clientTime = ManualClock()
        let serverTime = ManualClock()
        let client = try pki.sidecarClient { $0.clock = clientTime.clock }
        let server = try pki.gatewayServer { $0.clock = serverTime.clock }
        let cache = TLSSessionCache()
        let first = TLSPump(client: TLSConnection(context: client, expectedPeer: pki.gatewayID, sessionCache: cache, upstreamKey: "gw"),
                            server: TLSConnection(context: server))
        XCTAssertEqual(first.handshake().server, .complete)
        _ = TLSPump.readAll(first.client)
        XCTAssertEqual(cache.count, 1)
        return (client, server, cache, clientTime, serverTime)
    }

    private func connection(_ setup: (client: TLSContext, server: TLSContext, cache: TLSSessionCache, clientTime: ManualClock, serverTime: ManualClock)) -> TLSPump {
        TLSPump(client: TLSConnection(context: setup.client, expectedPeer: pki.gatewayID, sessionCache: setup.cache, upstreamKey: "gw"),
                server: TLSConnection(context: setup.server))
    }

    func testControlSessionResumesWhileTheCertificatesAreValid() throws {
        let setup = try setUpSession()
        let pump = connection(setup)
        XCTAssertEqual(pump.handshake().client, .complete)
        XCTAssertTrue(pump.client.sessionReused)
        XCTAssertTrue(pump.server.sessionReused)
    }

    // MARK: Refused on completion

    func testClientRefusesAResumedSessionWhoseServerCertificateExpired() throws {
        let setup = try setUpSession()
        // The session is picked when the connection is made; the gateway's certificate runs
        // out before the handshake completes.
        let pump = connection(setup)
        setup.clientTime.advance(by: year)
        let (client, _) = pump.handshake()
        XCTAssertTrue(pump.client.sessionReused)
        guard case .failed(let error) = client else { return XCTFail("client accepted an expired resumed session: \(client)") }
        XCTAssertEqual(error.reason, .certificateExpired)
        XCTAssertTrue(error.detail.contains("resumed session") && error.detail.contains("expired"), error.detail)
        XCTAssertNil(pump.client.peerIdentity)
        XCTAssertEqual(setup.cache.count, 0)  // the failure dropped the session
    }

    func testClientRefusesAResumedSessionWhoseServerCertificateIsNotValidYet() throws {
        let setup = try setUpSession()
        let pump = connection(setup)
        setup.clientTime.advance(by: -2 * ManualClock.day)  // before notBefore (now - 5 minutes)
        let (client, _) = pump.handshake()
        XCTAssertTrue(pump.client.sessionReused)
        guard case .failed(let error) = client else { return XCTFail("client accepted a not-yet-valid resumed session: \(client)") }
        XCTAssertEqual(error.reason, .certificateNotYetValid)
        XCTAssertTrue(error.detail.contains("resumed session"), error.detail)
    }

    func testServerRefusesAResumedSessionWhoseClientCertificateExpired() throws {
        let setup = try setUpSession()
        let pump = connection(setup)
        // Step by step: the server accepts the ticket on the ClientHello, and the clock
        // passes the client certificate's end before the client's Finished arrives.
        XCTAssertEqual(pump.client.handshake(), .needsIO)
        TLSPump.transfer(from: pump.client, to: pump.server)
        XCTAssertEqual(pump.server.handshake(), .needsIO)
        setup.serverTime.advance(by: year)
        TLSPump.transfer(from: pump.server, to: pump.client)
        XCTAssertEqual(pump.client.handshake(), .complete)
        TLSPump.transfer(from: pump.client, to: pump.server)
        let server = pump.server.handshake()
        XCTAssertTrue(pump.server.sessionReused)
        guard case .failed(let error) = server else { return XCTFail("server accepted an expired resumed session: \(server)") }
        XCTAssertEqual(error.reason, .certificateExpired)
        XCTAssertTrue(error.detail.contains("resumed session"), error.detail)
        XCTAssertNil(pump.server.peerIdentity)
    }

    // MARK: Not offered, not accepted

    /// A leaf valid from five minutes ago for `minutes` minutes, in `cluster`, under a
    /// unique name: its certificate runs out well within a session's lifetime.
    private func shortLivedLeaf(_ cluster: String, _ id: SPIFFEID, minutes: Int) throws -> (chain: String, key: String) {
        let now = Date()
        let name = "short-\(UUID().uuidString.prefix(8).lowercased())"
        let leaf = try pki.layout.loadIntermediate(cluster: cluster).issueLeaf(
            name: name, spiffeID: id, validity: Validity(notBefore: now - 300, notAfter: now + TimeInterval(minutes * 60)))
        try pki.layout.write(leaf: leaf, cluster: cluster, name: name, force: false)
        return pki.identity(cluster, name)
    }

    func testClientDoesNotOfferASessionWhoseServerCertificateExpired() throws {
        let clientTime = ManualClock()
        let client = try pki.sidecarClient { $0.clock = clientTime.clock }
        let server = try TLSContext(pki.configuration(.server, identity: try shortLivedLeaf("cluster2", pki.gatewayID, minutes: 30)))
        let cache = TLSSessionCache()
        let first = TLSPump(client: TLSConnection(context: client, expectedPeer: pki.gatewayID, sessionCache: cache, upstreamKey: "gw"),
                            server: TLSConnection(context: server))
        XCTAssertEqual(first.handshake().client, .complete)
        _ = TLSPump.readAll(first.client)
        XCTAssertEqual(cache.count, 1)

        // 40 minutes on: the session is within its hour, its certificate is not.
        clientTime.advance(by: 40 * 60)
        let pump = TLSPump(client: TLSConnection(context: client, expectedPeer: pki.gatewayID, sessionCache: cache, upstreamKey: "gw"),
                           server: TLSConnection(context: server))
        let (state, _) = pump.handshake()
        XCTAssertFalse(pump.client.sessionReused)
        // The full handshake verifies the chain at the same clock, and refuses it.
        guard case .failed(let error) = state else { return XCTFail("client accepted an expired certificate: \(state)") }
        XCTAssertEqual(error.reason, .certificateExpired)
        XCTAssertFalse(error.detail.contains("resumed session"), error.detail)
    }

    func testServerDoesNotAcceptATicketWhoseClientCertificateExpired() throws {
        let serverTime = ManualClock()
        let leaf = try shortLivedLeaf("cluster1", pki.proxyID, minutes: 30)
        let client = try TLSContext(pki.configuration(.client, identity: leaf))
        let server = try pki.gatewayServer { $0.clock = serverTime.clock }
        let cache = TLSSessionCache()
        let first = TLSPump(client: TLSConnection(context: client, expectedPeer: pki.gatewayID, sessionCache: cache, upstreamKey: "gw"),
                            server: TLSConnection(context: server))
        XCTAssertEqual(first.handshake().server, .complete)
        _ = TLSPump.readAll(first.client)

        serverTime.advance(by: 40 * 60)
        let pump = TLSPump(client: TLSConnection(context: client, expectedPeer: pki.gatewayID, sessionCache: cache, upstreamKey: "gw"),
                           server: TLSConnection(context: server))
        let (_, state) = pump.handshake()
        XCTAssertFalse(pump.server.sessionReused)
        guard case .failed(let error) = state else { return XCTFail("server accepted an expired certificate: \(state)") }
        XCTAssertEqual(error.reason, .certificateExpired)
        XCTAssertFalse(error.detail.contains("resumed session"), error.detail)
    }
}
