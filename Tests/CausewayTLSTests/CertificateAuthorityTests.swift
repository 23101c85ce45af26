import CausewayTLS
import Foundation
import XCTest

final class CertificateAuthorityTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let gateway = try! SPIFFEID(parsing: "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway")

    private func hierarchy(_ algorithm: KeyAlgorithm = .ecP256) throws -> (root: CertificateAuthority, intermediate: CertificateAuthority) {
        let root = try CertificateAuthority.makeRoot(keyAlgorithm: algorithm, validity: .days(3650, from: now))
        let intermediate = try CertificateAuthority.makeIntermediate(cluster: "cluster2", signedBy: root, keyAlgorithm: algorithm, validity: .days(730, from: now))
        return (root, intermediate)
    }

    func testRootIsASelfSignedCA() throws {
        let root = try hierarchy().root.certificate
        XCTAssertTrue(root.isCertificateAuthority)
        XCTAssertNil(root.pathLengthConstraint)
        XCTAssertEqual(root.keyUsage, [.keyCertSign, .cRLSign])
        XCTAssertEqual(root.extendedKeyUsage, [])
        XCTAssertTrue(root.isIssued(by: root))
        XCTAssertEqual(root.subject, root.issuer)
        XCTAssertTrue(root.subject.contains("CN=Causeway mesh root CA"), root.subject)
        XCTAssertNotNil(root.subjectKeyIdentifier)
        XCTAssertEqual(root.authorityKeyIdentifier, root.subjectKeyIdentifier)
        XCTAssertEqual(root.validity, .days(3650, from: now))
        XCTAssertEqual(root.subjectAlternativeNames, [])
    }

    func testIntermediateIsSignedByTheRootWithPathLengthZero() throws {
        let (root, intermediate) = try hierarchy()
        let ca = intermediate.certificate
        XCTAssertTrue(ca.isCertificateAuthority)
        XCTAssertEqual(ca.pathLengthConstraint, 0)
        XCTAssertEqual(ca.keyUsage, [.keyCertSign, .cRLSign])
        XCTAssertTrue(ca.isIssued(by: root.certificate))
        XCTAssertFalse(ca.isIssued(by: ca))
        XCTAssertEqual(ca.issuer, root.certificate.subject)
        XCTAssertTrue(ca.subject.contains("CN=cluster2 intermediate CA") && ca.subject.contains("OU=cluster2"), ca.subject)
        XCTAssertEqual(ca.authorityKeyIdentifier, root.certificate.subjectKeyIdentifier)
        XCTAssertNotEqual(ca.subjectKeyIdentifier, root.certificate.subjectKeyIdentifier)
    }

    func testLeafCarriesTheIdentityAndBothUsages() throws {
        let (root, intermediate) = try hierarchy()
        let issued = try intermediate.issueLeaf(
            name: "gateway", spiffeID: gateway,
            alternativeNames: [.dns("gateway.cluster2.example"), .ip("10.0.2.10"), .ip("fd00::a")],
            validity: .days(365, from: now))
        let leaf = issued.certificate
        XCTAssertFalse(leaf.isCertificateAuthority)
        XCTAssertEqual(leaf.keyUsage, [.digitalSignature])
        XCTAssertEqual(leaf.extendedKeyUsage, [.serverAuth, .clientAuth])
        XCTAssertEqual(leaf.subjectAlternativeNames, [
            .uri("spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway"),
            .dns("gateway.cluster2.example"), .ip("10.0.2.10"), .ip("fd00::a"),
        ])
        XCTAssertEqual(try leaf.spiffeID(), gateway)
        XCTAssertTrue(leaf.isIssued(by: intermediate.certificate))
        XCTAssertFalse(leaf.isIssued(by: root.certificate))
        XCTAssertEqual(leaf.authorityKeyIdentifier, intermediate.certificate.subjectKeyIdentifier)
        XCTAssertEqual(leaf.validity, .days(365, from: now))
        XCTAssertEqual(issued.chain.count, 2)
        XCTAssertTrue(issued.chain[0] === leaf && issued.chain[1] === intermediate.certificate)
        XCTAssertTrue(issued.key.matches(leaf))
        XCTAssertFalse(issued.key.matches(intermediate.certificate))
        XCTAssertEqual(issued.key.algorithm, .ecP256)
    }

    func testRSALeafAlsoGetsKeyEncipherment() throws {
        let (_, intermediate) = try hierarchy(.rsa2048)
        let issued = try intermediate.issueLeaf(name: "gateway", spiffeID: gateway, keyAlgorithm: .rsa2048, validity: .days(30, from: now))
        XCTAssertEqual(issued.certificate.keyUsage, [.digitalSignature, .keyEncipherment])
        XCTAssertEqual(issued.key.algorithm, .rsa2048)
        XCTAssertEqual(intermediate.key.algorithm, .rsa2048)
    }

    func testSerialNumbersAreRandom128BitValues() throws {
        let (_, intermediate) = try hierarchy()
        let serials = try (0..<8).map { _ in
            try intermediate.issueLeaf(name: "leaf", spiffeID: gateway, validity: .days(1, from: now)).certificate.serialNumberHex
        }
        XCTAssertEqual(Set(serials).count, serials.count)
        for serial in serials { XCTAssertTrue((17...32).contains(serial.count), serial) }  // 128 random bits
    }

    func testLeafWithoutSPIFFEIDHasNoIdentity() throws {
        let (_, intermediate) = try hierarchy()
        let leaf = try intermediate.issueLeaf(name: "plain", spiffeID: nil, alternativeNames: [.dns("plain.example")], validity: .days(1, from: now)).certificate
        XCTAssertThrowsError(try leaf.spiffeID()) { XCTAssertEqual($0 as? PeerIdentityError, .noSPIFFEID) }
        let bare = try intermediate.issueLeaf(name: "bare", spiffeID: nil, validity: .days(1, from: now)).certificate
        XCTAssertEqual(bare.subjectAlternativeNames, [])
    }

    func testTwoSPIFFEIDsAreNotAnIdentity() throws {
        let (_, intermediate) = try hierarchy()
        let leaf = try intermediate.issueLeaf(name: "two", spiffeID: gateway, alternativeNames: [.uri("spiffe://mesh.local/ns/a/sa/b")], validity: .days(1, from: now))
        XCTAssertThrowsError(try leaf.certificate.spiffeID()) { XCTAssertEqual($0 as? PeerIdentityError, .multipleSPIFFEIDs(2)) }
    }

    func testAnyOtherURISANMeansNoIdentity() throws {
        // X.509-SVID: exactly one URI SAN. Every URI counts, whatever its scheme or order.
        let (_, intermediate) = try hierarchy()
        let after = try intermediate.issueLeaf(name: "extra", spiffeID: gateway, alternativeNames: [.uri("https://gateway.example/")], validity: .days(1, from: now))
        XCTAssertThrowsError(try after.certificate.spiffeID()) { XCTAssertEqual($0 as? PeerIdentityError, .multipleURISANs(2)) }
        let before = try intermediate.issueLeaf(name: "extra", spiffeID: nil,
                                                alternativeNames: [.uri("urn:example:a"), .uri("urn:example:b"), .uri(gateway.description)], validity: .days(1, from: now))
        XCTAssertThrowsError(try before.certificate.spiffeID()) { XCTAssertEqual($0 as? PeerIdentityError, .multipleURISANs(3)) }
    }

    func testDNSAndIPSANsBesideTheSPIFFEIDAreFine() throws {
        let (_, intermediate) = try hierarchy()
        let leaf = try intermediate.issueLeaf(name: "named", spiffeID: gateway, alternativeNames: [.dns("gateway.example"), .ip("10.0.2.10")], validity: .days(1, from: now))
        XCTAssertEqual(try leaf.certificate.spiffeID(), gateway)
    }

    func testExpiredValidityCanBeIssuedForTests() throws {
        let (_, intermediate) = try hierarchy()
        let past = Validity(notBefore: now - 10 * 86_400, notAfter: now - 86_400)
        XCTAssertEqual(try intermediate.issueLeaf(name: "old", spiffeID: gateway, validity: past).certificate.validity, past)
    }

    func testRefusesWhatCannotBeIssued() throws {
        let (root, intermediate) = try hierarchy()
        XCTAssertThrowsError(try intermediate.issueLeaf(name: "long", spiffeID: gateway, validity: .days(1000, from: now))) { error in
            guard case .invalidValidity(let message) = error as? CertificateError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("after its issuer"), message)
        }
        XCTAssertThrowsError(try CertificateAuthority.makeIntermediate(cluster: "c", signedBy: root, validity: .days(4000, from: now)))
        XCTAssertThrowsError(try intermediate.issueLeaf(name: "empty", spiffeID: gateway, validity: Validity(notBefore: now, notAfter: now)))
        XCTAssertThrowsError(try intermediate.issueLeaf(name: "../etc", spiffeID: gateway, validity: .days(1, from: now)))
        XCTAssertThrowsError(try CertificateAuthority.makeIntermediate(cluster: "Cluster_1", signedBy: root, validity: .days(1, from: now)))
        XCTAssertThrowsError(try intermediate.issueLeaf(name: "x", spiffeID: gateway, alternativeNames: [.ip("10.0.0.300")], validity: .days(1, from: now)))
        for bad in ["", "-a.example", "a..example", "a_b.example", "a.example,URI:spiffe://evil/x", "*"] {
            XCTAssertThrowsError(try intermediate.issueLeaf(name: "x", spiffeID: gateway, alternativeNames: [.dns(bad)], validity: .days(1, from: now)), bad)
        }
        XCTAssertNoThrow(try intermediate.issueLeaf(name: "x", spiffeID: gateway, alternativeNames: [.dns("*.cluster2.example")], validity: .days(1, from: now)))
        for bad in ["", "spiffe://mesh.local/ns/a b", "https://é.example/"] {
            XCTAssertThrowsError(try intermediate.issueLeaf(name: "x", spiffeID: gateway, alternativeNames: [.uri(bad)], validity: .days(1, from: now)), bad)
        }
    }

    func testCertificateAuthorityNeedsACAAndItsOwnKey() throws {
        let (root, intermediate) = try hierarchy()
        let leaf = try intermediate.issueLeaf(name: "leaf", spiffeID: gateway, validity: .days(1, from: now))
        XCTAssertThrowsError(try CertificateAuthority(certificate: leaf.certificate, key: leaf.key))
        XCTAssertThrowsError(try CertificateAuthority(certificate: root.certificate, key: intermediate.key))
        XCTAssertNoThrow(try CertificateAuthority(certificate: root.certificate, key: root.key))
    }

    func testPEMRoundTrip() throws {
        let (_, intermediate) = try hierarchy()
        let issued = try intermediate.issueLeaf(name: "leaf", spiffeID: gateway, validity: .days(1, from: now))
        let chainPEM = try issued.chainPEM()
        XCTAssertEqual(chainPEM.components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1, 2)
        let chain = try Certificate.chain(pem: chainPEM)
        XCTAssertEqual(chain.map(\.serialNumberHex), issued.chain.map(\.serialNumberHex))
        let keyPEM = try issued.key.pemEncoded()
        XCTAssertTrue(keyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        XCTAssertTrue(try PrivateKey(pem: keyPEM).matches(chain[0]))
        XCTAssertThrowsError(try Certificate(pem: "not a certificate"))
        XCTAssertThrowsError(try Certificate(pem: keyPEM))
        XCTAssertThrowsError(try PrivateKey(pem: chainPEM))
    }
}
