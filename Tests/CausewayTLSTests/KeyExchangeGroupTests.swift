import CausewayTLS
import Foundation
import XCTest

/// Key exchange is pinned to X25519 and P-256 on both roles: a client cannot make the
/// gateway compute a costly finite-field Diffie-Hellman exchange before authenticating.
final class KeyExchangeGroupTests: XCTestCase {
    let pki = TestPKI.shared

    /// A real ClientHello from a sidecar, taken apart.
    private func sidecarHello(_ adjust: (inout TLSConfiguration) -> Void = { _ in }) throws -> HelloMessage {
        let client = TLSConnection(context: try pki.sidecarClient("cluster1", "proxy", adjust))
        XCTAssertEqual(client.handshake(), .needsIO)
        return try HelloMessage(parsing: TLSPump.take(client))
    }

    /// Feeds `hello` to a fresh gateway connection and returns its state and output.
    private func offer(_ hello: HelloMessage) throws -> (state: TLSHandshakeState, output: [UInt8]) {
        let server = TLSConnection(context: try pki.gatewayServer())
        hello.record.withUnsafeBytes { server.feed($0) }
        let state = server.handshake()
        return (state, TLSPump.take(server))
    }

    func testClientOffersOnlyX25519AndP256() throws {
        let hello = try sidecarHello()
        XCTAssertEqual(hello.supportedGroups, [HelloMessage.x25519, HelloMessage.secp256r1])
        XCTAssertEqual(hello.keyShareGroups, [HelloMessage.x25519])
        // TLS 1.2 uses the same list for ECDHE.
        XCTAssertEqual(try sidecarHello { $0.maximumVersion = .tls12 }.supportedGroups, [HelloMessage.x25519, HelloMessage.secp256r1])
    }

    func testClientOfferingOnlyFFDHEGroupsIsRefused() throws {
        var hello = try sidecarHello()
        hello.set(HelloMessage.supportedGroups, HelloMessage.groupList(HelloMessage.ffdhe))
        hello.set(HelloMessage.keyShare, HelloMessage.emptyKeyShare)
        let (state, output) = try offer(hello)
        // Refused at once with handshake_failure, where OpenSSL's defaults would have asked
        // for an ffdhe2048 share (a HelloRetryRequest) and then computed with it.
        XCTAssertEqual(TLSPump.reason(state), .handshakeFailure)
        XCTAssertEqual(output, [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40])
    }

    func testClientOfferingP384OnlyIsRefused() throws {
        var hello = try sidecarHello()
        hello.set(HelloMessage.supportedGroups, HelloMessage.groupList([HelloMessage.secp384r1]))
        hello.set(HelloMessage.keyShare, HelloMessage.emptyKeyShare)
        XCTAssertEqual(TLSPump.reason(try offer(hello).state), .handshakeFailure)
    }

    /// The control for the rewriting above: the same edit with X25519 among the groups is a
    /// well-formed ClientHello, which the server answers with a HelloRetryRequest for
    /// X25519 (not for the client's first choice, FFDHE).
    func testRewrittenHelloWithAnAllowedGroupGetsAHelloRetryRequest() throws {
        var hello = try sidecarHello()
        hello.set(HelloMessage.supportedGroups, HelloMessage.groupList([HelloMessage.ffdhe[0], HelloMessage.x25519]))
        hello.set(HelloMessage.keyShare, HelloMessage.emptyKeyShare)
        let (state, output) = try offer(hello)
        XCTAssertEqual(state, .needsIO)
        let retry = try HelloMessage(parsing: output)
        XCTAssertEqual(retry.handshakeType, 2)
        XCTAssertEqual(retry.random, HelloMessage.helloRetryRandom)
        XCTAssertEqual(retry.body(of: HelloMessage.keyShare), HelloMessage.u16(Int(HelloMessage.x25519)))
    }

    func testServerRefusesATLS12ClientOfferingOnlyP384() throws {
        // An RSA gateway certificate: with an ECDSA P-256 one, OpenSSL would refuse a TLS 1.2
        // client without P-256 anyway (the certificate's curve must be one it offers).
        let now = Date()
        let leaf = try pki.layout.loadIntermediate(cluster: "cluster2").issueLeaf(
            name: "gateway-rsa-groups", spiffeID: pki.gatewayID, keyAlgorithm: .rsa2048, validity: .days(30, from: now))
        try pki.layout.write(leaf: leaf, cluster: "cluster2", name: "gateway-rsa-groups", force: true)
        let server = TLSConnection(context: try TLSContext(pki.configuration(.server, identity: pki.identity("cluster2", "gateway-rsa-groups"))))

        var hello = try sidecarHello { $0.maximumVersion = .tls12 }
        hello.set(HelloMessage.supportedGroups, HelloMessage.groupList([HelloMessage.secp384r1]))
        hello.record.withUnsafeBytes { server.feed($0) }
        XCTAssertEqual(TLSPump.reason(server.handshake()), .handshakeFailure)
    }
}
