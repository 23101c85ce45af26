import CausewayTLS
import XCTest

/// Which sessions are resumed: TLS 1.3 only (no TLS 1.2 stateless tickets under a key that
/// never rotates), for a bounded time, and only by a connection expecting the same peer
/// identity as the one that made the session.
final class SessionPolicyTests: XCTestCase {
    let pki = TestPKI.shared

    /// A full client/gateway handshake through `cache`, then the client reads its ticket.
    @discardableResult
    private func connect(_ clientContext: TLSContext, _ serverContext: TLSContext, cache: TLSSessionCache,
                         upstream: String = "10.0.2.10:15443", expecting: SPIFFEID?,
                         file: StaticString = #filePath, line: UInt = #line) -> TLSPump {
        let pump = TLSPump(
            client: TLSConnection(context: clientContext, expectedPeer: expecting, sessionCache: cache, upstreamKey: upstream),
            server: TLSConnection(context: serverContext)
        )
        _ = pump.handshake()
        _ = TLSPump.readAll(pump.client)  // a TLS 1.3 ticket arrives after the handshake
        return pump
    }

    // MARK: TLS 1.2

    func testTLS12ServerIssuesNoTicketToAClientThatAsksForOne() throws {
        let client = TLSConnection(context: try pki.sidecarClient { $0.maximumVersion = .tls12 })
        XCTAssertEqual(client.handshake(), .needsIO)
        var hello = try HelloMessage(parsing: TLSPump.take(client))
        // Our own client no longer asks (see below); any other TLS 1.2 client does, with an
        // empty SessionTicket extension.
        hello.set(HelloMessage.sessionTicket, [])
        let server = TLSConnection(context: try pki.gatewayServer())
        hello.record.withUnsafeBytes { server.feed($0) }
        XCTAssertEqual(server.handshake(), .needsIO)
        let serverHello = try HelloMessage(parsing: TLSPump.take(server))
        XCTAssertEqual(serverHello.handshakeType, 2)
        XCTAssertTrue(serverHello.extensionTypes.contains(HelloMessage.alpn), "\(serverHello.extensionTypes)")  // parsed right
        // Echoing the extension would promise a NewSessionTicket.
        XCTAssertFalse(serverHello.extensionTypes.contains(HelloMessage.sessionTicket), "\(serverHello.extensionTypes)")
    }

    func testClientDoesNotAskForTLS12Tickets() throws {
        for maximum in [TLSProtocolVersion.tls12, .tls13] {
            let client = TLSConnection(context: try pki.sidecarClient { $0.maximumVersion = maximum })
            XCTAssertEqual(client.handshake(), .needsIO)
            let hello = try HelloMessage(parsing: TLSPump.take(client))
            XCTAssertTrue(hello.extensionTypes.contains(HelloMessage.alpn), "\(hello.extensionTypes)")
            XCTAssertFalse(hello.extensionTypes.contains(HelloMessage.sessionTicket), "\(maximum): \(hello.extensionTypes)")
        }
    }

    func testTLS12SessionsAreNotResumed() throws {
        let clientContext = try pki.sidecarClient { $0.maximumVersion = .tls12 }
        let serverContext = try pki.gatewayServer()
        let cache = TLSSessionCache()
        let first = connect(clientContext, serverContext, cache: cache, expecting: pki.gatewayID)
        XCTAssertEqual(first.client.protocolVersion, .tls12)
        XCTAssertEqual(cache.count, 0)  // nothing resumable was obtained
        let second = connect(clientContext, serverContext, cache: cache, expecting: pki.gatewayID)
        XCTAssertEqual(second.client.peerIdentity, pki.gatewayID)
        XCTAssertFalse(second.client.sessionReused)
        XCTAssertFalse(second.server.sessionReused)
    }

    // MARK: Lifetime

    func testClientOffersASessionForAnHourAtMost() throws {
        XCTAssertLessThanOrEqual(TLSContext.sessionLifetime, 3600)
        let time = ManualClock()
        let clientContext = try pki.sidecarClient { $0.clock = time.clock }
        let serverContext = try pki.gatewayServer()
        let cache = TLSSessionCache()
        connect(clientContext, serverContext, cache: cache, expecting: pki.gatewayID)

        time.advance(by: Int64(TLSContext.sessionLifetime) - 60)
        let late = connect(clientContext, serverContext, cache: cache, expecting: pki.gatewayID)
        XCTAssertTrue(late.client.sessionReused, "a minute before the end")

        // `late` brought a fresh ticket, made at the real time: the clock is past its end.
        time.advance(by: 120)
        let expired = connect(clientContext, serverContext, cache: cache, expecting: pki.gatewayID)
        XCTAssertEqual(expired.client.peerIdentity, pki.gatewayID)
        XCTAssertFalse(expired.client.sessionReused, "a minute after the end")
    }

    func testServerAcceptsATicketForAnHourAtMost() throws {
        let time = ManualClock()
        let clientContext = try pki.sidecarClient()
        let serverContext = try pki.gatewayServer { $0.clock = time.clock }
        let cache = TLSSessionCache()
        connect(clientContext, serverContext, cache: cache, expecting: pki.gatewayID)

        time.advance(by: Int64(TLSContext.sessionLifetime) - 60)
        let late = connect(clientContext, serverContext, cache: cache, expecting: pki.gatewayID)
        XCTAssertTrue(late.server.sessionReused, "a minute before the end")

        time.advance(by: 120)
        let expired = connect(clientContext, serverContext, cache: cache, expecting: pki.gatewayID)
        XCTAssertEqual(expired.server.peerIdentity, pki.proxyID)
        XCTAssertFalse(expired.server.sessionReused, "a minute after the end")
        XCTAssertFalse(expired.client.sessionReused)
    }

    // MARK: Keyed by the expected identity

    func testSessionForOneIdentityIsNotOfferedToAConnectionExpectingAnother() throws {
        let clientContext = try pki.sidecarClient()
        let serverContext = try pki.gatewayServer()
        let cache = TLSSessionCache()
        let other = try SPIFFEID(parsing: "spiffe://mesh.local/ns/mesh-system/sa/cluster3-gateway")

        let first = connect(clientContext, serverContext, cache: cache, upstream: "gw", expecting: pki.gatewayID)
        XCTAssertEqual(first.client.peerIdentity, pki.gatewayID)
        XCTAssertEqual(cache.count, 1)

        // Same address, another expected identity: a full handshake, which verifies the
        // certificate and refuses it. Offering the cached session would have skipped that.
        let second = connect(clientContext, serverContext, cache: cache, upstream: "gw", expecting: other)
        guard case .failed(let error) = second.client.handshake() else { return XCTFail("client accepted \(String(describing: second.client.peerIdentity))") }
        XCTAssertFalse(second.client.sessionReused)
        XCTAssertEqual(error.reason, .identityMismatch)

        // No expectation is an identity of its own too.
        let anyone = connect(clientContext, serverContext, cache: cache, upstream: "gw", expecting: nil)
        XCTAssertEqual(anyone.client.peerIdentity, pki.gatewayID)
        XCTAssertFalse(anyone.client.sessionReused)
        XCTAssertEqual(cache.count, 2)

        // The failure left the first identity's session in place.
        let again = connect(clientContext, serverContext, cache: cache, upstream: "gw", expecting: pki.gatewayID)
        XCTAssertTrue(again.client.sessionReused)
        XCTAssertEqual(again.client.peerIdentity, pki.gatewayID)

        // Forgetting an upstream forgets it under every identity.
        cache.removeSession(for: "gw")
        XCTAssertEqual(cache.count, 0)
    }
}
