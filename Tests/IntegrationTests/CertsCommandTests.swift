import CausewayTLS
import Foundation
import XCTest

/// `causeway certs` as an operator runs it.
final class CertsCommandTests: XCTestCase {
    func testCertsCommandsWriteTheLayoutAndProtectKeys() throws {
        let dir = try TempDir()
        let out = dir.path("out")
        let bin = try causewayBinary()
        XCTAssertEqual(try runCommand(bin, ["certs", "root", "--out", out]).status, 0)
        XCTAssertEqual(try runCommand(bin, ["certs", "intermediate", "--cluster", "cluster2", "--out", out]).status, 0)
        let issue = ["certs", "issue", "--cluster", "cluster2", "--name", "gateway",
                     "--spiffe-id", "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway", "--ip", "127.0.0.1", "--out", out]
        XCTAssertEqual(try runCommand(bin, issue).status, 0)
        for file in ["root.pem", "root-key.pem", "cluster2/ca.pem", "cluster2/ca-key.pem", "cluster2/gateway-chain.pem", "cluster2/gateway-key.pem"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(file)"), file)
        }
        let mode = try FileManager.default.attributesOfItem(atPath: "\(out)/cluster2/gateway-key.pem")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        // The chain holds the leaf then the intermediate.
        let chain = try String(contentsOfFile: "\(out)/cluster2/gateway-chain.pem", encoding: .utf8)
        XCTAssertEqual(chain.components(separatedBy: "BEGIN CERTIFICATE").count - 1, 2)
        // Never overwrite a key without --force.
        let again = try runCommand(bin, issue)
        XCTAssertEqual(again.status, 64, again.stderr)
        XCTAssertTrue(again.stderr.contains("--force"), again.stderr)
        XCTAssertEqual(try runCommand(bin, issue + ["--force"]).status, 0)
        // A missing intermediate names the command to run first.
        let orphan = try runCommand(bin, ["certs", "issue", "--cluster", "cluster9", "--name", "x", "--spiffe-id", "spiffe://mesh.local/ns/a/sa/b", "--out", out])
        XCTAssertNotEqual(orphan.status, 0)
        XCTAssertTrue(orphan.stderr.contains("intermediate"), orphan.stderr)
    }

    /// A workload certificate's rotation is one command: `issue` with the same name and
    /// `--force` replaces the key and the chain in place, signed by the same intermediate,
    /// which stays as it was.
    func testIssueWithForceRenewsAWorkloadCertificateInPlaceAndKeepsTheCA() throws {
        let dir = try TempDir()
        let out = dir.path("out")
        let bin = try causewayBinary()
        XCTAssertEqual(try runCommand(bin, ["certs", "root", "--out", out]).status, 0)
        XCTAssertEqual(try runCommand(bin, ["certs", "intermediate", "--cluster", "cluster2", "--out", out]).status, 0)
        let id = "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway"
        let issue = ["certs", "issue", "--cluster", "cluster2", "--name", "gateway", "--spiffe-id", id, "--ip", "127.0.0.1", "--out", out]
        XCTAssertEqual(try runCommand(bin, issue).status, 0)
        func read(_ file: String) throws -> String { try String(contentsOfFile: "\(out)/\(file)", encoding: .utf8) }
        let caBefore = try read("cluster2/ca.pem") + read("cluster2/ca-key.pem") + read("root.pem")
        let oldChain = try Certificate.chain(pem: read("cluster2/gateway-chain.pem"))
        let oldKey = try read("cluster2/gateway-key.pem")

        let renew = try runCommand(bin, issue + ["--force", "--days", "90"])
        XCTAssertEqual(renew.status, 0, renew.stderr)
        let newChain = try Certificate.chain(pem: read("cluster2/gateway-chain.pem"))
        XCTAssertNotEqual(newChain[0].serialNumberHex, oldChain[0].serialNumberHex)
        XCTAssertNotEqual(try read("cluster2/gateway-key.pem"), oldKey, "a new key")
        XCTAssertEqual(try newChain[0].spiffeID().description, id)
        XCTAssertEqual(newChain[0].validity.notAfter.timeIntervalSinceNow, 90 * 86_400, accuracy: 600)
        // Same CA: untouched files, and the new leaf is signed by that intermediate.
        XCTAssertEqual(try read("cluster2/ca.pem") + read("cluster2/ca-key.pem") + read("root.pem"), caBefore)
        let intermediate = try Certificate(pem: read("cluster2/ca.pem"))
        XCTAssertTrue(newChain[0].isIssued(by: intermediate))
        XCTAssertEqual(try newChain[1].pemEncoded(), try intermediate.pemEncoded())
        let mode = try FileManager.default.attributesOfItem(atPath: "\(out)/cluster2/gateway-key.pem")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
    }
}
