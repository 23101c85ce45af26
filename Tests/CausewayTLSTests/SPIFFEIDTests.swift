import CausewayTLS
import XCTest

final class SPIFFEIDTests: XCTestCase {
    func testValidIDs() throws {
        let table: [(String, String, String)] = [
            ("spiffe://mesh.local/ns/production/sa/webapp", "mesh.local", "/ns/production/sa/webapp"),
            ("spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway", "mesh.local", "/ns/mesh-system/sa/cluster2-gateway"),
            ("spiffe://a/b", "a", "/b"),
            ("spiffe://trust_domain-1.example/Path.With_Caps-1", "trust_domain-1.example", "/Path.With_Caps-1"),
            ("spiffe://mesh.local/..a/.b./...", "mesh.local", "/..a/.b./..."),
        ]
        for (text, domain, path) in table {
            let id = try SPIFFEID(parsing: text)
            XCTAssertEqual(id.trustDomain.name, domain, text)
            XCTAssertEqual(id.path, path, text)
            XCTAssertEqual(id.description, text)
        }
    }

    func testInvalidIDs() {
        let table: [(String, SPIFFEIDError)] = [
            ("", .empty),
            ("http://mesh.local/ns/a/sa/b", .wrongScheme),
            ("SPIFFE://mesh.local/ns/a/sa/b", .wrongScheme),
            ("spiffe:/mesh.local/ns/a", .wrongScheme),
            ("spiffe:///ns/a/sa/b", .missingTrustDomain),
            ("spiffe://Mesh.Local/ns/a/sa/b", .invalidTrustDomainCharacter("M")),
            ("spiffe://mesh.local:8443/ns/a/sa/b", .invalidTrustDomainCharacter(":")),
            ("spiffe://user@mesh.local/ns/a/sa/b", .invalidTrustDomainCharacter("@")),
            ("spiffe://mesh.local", .missingPath),
            ("spiffe://mesh.local?x=1", .invalidTrustDomainCharacter("?")),
            ("spiffe://mesh.local/", .trailingSlash),
            ("spiffe://mesh.local/ns/a/", .trailingSlash),
            ("spiffe://mesh.local/ns//sa/b", .emptyPathSegment),
            ("spiffe://mesh.local/ns/./sa", .dotPathSegment),
            ("spiffe://mesh.local/ns/../sa", .dotPathSegment),
            ("spiffe://mesh.local/ns/a/sa/b?x=1", .invalidPathCharacter("?")),
            ("spiffe://mesh.local/ns/a/sa/b#frag", .invalidPathCharacter("#")),
            ("spiffe://mesh.local/ns/a b", .invalidPathCharacter(" ")),
            ("spiffe://mesh.local/ns/%41", .invalidPathCharacter("%")),
            ("spiffe://mesh.local/ns/é", .invalidPathCharacter("é")),
            ("spiffe://mesh.local/" + String(repeating: "a", count: 2040), .tooLong),
        ]
        for (text, expected) in table {
            XCTAssertThrowsError(try SPIFFEID(parsing: text), text) { error in
                XCTAssertEqual(error as? SPIFFEIDError, expected, text)
            }
        }
    }

    func testKubernetesConvention() throws {
        let id = try SPIFFEID(trustDomain: TrustDomain("mesh.local"), namespace: "mesh-system", serviceAccount: "cluster2-gateway")
        XCTAssertEqual(id.description, "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway")
        XCTAssertEqual(id, try SPIFFEID(parsing: "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway"))
        XCTAssertThrowsError(try SPIFFEID(trustDomain: TrustDomain("mesh.local"), namespace: "a/b", serviceAccount: "../x"))
        XCTAssertThrowsError(try SPIFFEID(trustDomain: TrustDomain("mesh.local"), path: "ns/a"))
    }

    func testTrustDomainValidation() {
        XCTAssertNoThrow(try TrustDomain("mesh.local"))
        XCTAssertThrowsError(try TrustDomain(""))
        XCTAssertThrowsError(try TrustDomain("Mesh.local"))
        XCTAssertThrowsError(try TrustDomain("mesh.local:443"))
        XCTAssertThrowsError(try TrustDomain(String(repeating: "a", count: 256)))
    }

    func testErrorsExplainThemselves() {
        XCTAssertTrue(SPIFFEIDError.missingPath.description.contains("spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>"))
        XCTAssertTrue(SPIFFEIDError.invalidTrustDomainCharacter(":").description.contains("no port"))
    }
}
