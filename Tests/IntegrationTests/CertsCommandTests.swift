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
}
