import CausewayTLS
import Foundation
import XCTest

final class TLSContextTests: XCTestCase {
    let pki = TestPKI.shared

    private func expectError(_ configuration: TLSConfiguration, path: String?, mentioning text: String, line: UInt = #line) {
        XCTAssertThrowsError(try TLSContext(configuration), line: line) { error in
            guard let error = error as? TLSConfigurationError else { return XCTFail("\(error)", line: line) }
            XCTAssertEqual(error.path, path, line: line)
            XCTAssertTrue(error.description.contains(text), error.description, line: line)
        }
    }

    func testMissingFilesAreNamed() {
        var configuration = pki.configuration(.server, identity: pki.identity("cluster2", "gateway"))
        configuration.trustBundlePath = pki.directory + "/nope.pem"
        expectError(configuration, path: pki.directory + "/nope.pem", mentioning: "No such file")

        configuration = pki.configuration(.server, identity: (pki.directory + "/missing-chain.pem", pki.identity("cluster2", "gateway").key))
        expectError(configuration, path: pki.directory + "/missing-chain.pem", mentioning: "certificate chain")
    }

    func testKeyMustMatchTheCertificate() {
        let configuration = pki.configuration(.server, identity: (pki.identity("cluster2", "gateway").chain, pki.identity("cluster1", "proxy").key))
        expectError(configuration, path: pki.identity("cluster1", "proxy").key, mentioning: "does not match")
    }

    func testFilesThatAreNotPEMAreRefused() {
        let configuration = pki.configuration(.server, identity: (pki.identity("cluster2", "gateway").key, pki.identity("cluster2", "gateway").key))
        expectError(configuration, path: pki.identity("cluster2", "gateway").key, mentioning: "cannot load the certificate chain")
        var bundle = pki.configuration(.client, identity: nil)
        bundle.trustBundlePath = pki.identity("cluster2", "gateway").key
        expectError(bundle, path: bundle.trustBundlePath, mentioning: "trust bundle")
    }

    /// A copy of the gateway's key with `mode`, and a server configuration using it.
    private func gatewayWithKeyMode(_ mode: Int) throws -> (configuration: TLSConfiguration, keyPath: String) {
        let original = pki.identity("cluster2", "gateway")
        let copy = pki.directory + "/cluster2/mode-\(String(mode, radix: 8))-\(UUID().uuidString)-key.pem"
        try FileManager.default.copyItem(atPath: original.key, toPath: copy)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: copy)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: copy) }
        return (pki.configuration(.server, identity: (original.chain, copy)), copy)
    }

    func testKeyReadableByOthersIsRefusedNamingItsMode() throws {
        let (configuration, keyPath) = try gatewayWithKeyMode(0o644)
        expectError(configuration, path: keyPath, mentioning: "mode 0644")
        expectError(configuration, path: keyPath, mentioning: "group or others")
    }

    func testKeyOpenToGroupOrOthersInAnyWayIsRefused() throws {
        for mode in [0o640, 0o604, 0o620, 0o602, 0o610, 0o601] {
            let (configuration, keyPath) = try gatewayWithKeyMode(mode)
            expectError(configuration, path: keyPath, mentioning: "mode 0" + String(mode, radix: 8))
        }
    }

    func testKeyForItsOwnerOnlyIsAccepted() throws {
        for mode in [0o600, 0o400] {
            XCTAssertNoThrow(try TLSContext(try gatewayWithKeyMode(mode).configuration), String(mode, radix: 8))
        }
    }

    func testServerNeedsACertificate() {
        expectError(pki.configuration(.server, identity: nil), path: nil, mentioning: "needs certificateChain")
    }

    func testVersionRangeMustBeValid() {
        var configuration = pki.configuration(.client, identity: pki.identity("cluster1", "proxy"))
        configuration.minimumVersion = .tls13
        configuration.maximumVersion = .tls12
        expectError(configuration, path: nil, mentioning: "above the maximum")
    }

    func testLocalIdentityComesFromTheCertificate() throws {
        XCTAssertEqual(try pki.gatewayServer().localIdentity, pki.gatewayID)
        XCTAssertNil(try pki.sidecarClient("cluster1", "no-uri").localIdentity)
        XCTAssertNil(try pki.sidecarClient("cluster1", nil).localIdentity)
    }

    func testFailureReasonsAreStableTokens() {
        let tokens = TLSFailureReason.allCases.map(\.rawValue)
        XCTAssertEqual(Set(tokens).count, tokens.count)
        for token in ["certificate-expired", "unknown-ca", "no-peer-certificate", "no-spiffe-id", "foreign-trust-domain",
                      "identity-mismatch", "alpn-not-h2", "protocol-error", "not-tls", "handshake-failure"] {
            XCTAssertTrue(tokens.contains(token), token)
        }
        for token in tokens {
            XCTAssertTrue(token.allSatisfy { $0.isLowercase || $0 == "-" || $0.isNumber }, token)
        }
    }
}
