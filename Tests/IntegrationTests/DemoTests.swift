import Foundation
import XCTest

/// The README's run command: `causeway demo` sends requests across two clusters.
final class DemoTests: XCTestCase {
    func testDemoSendsRequestsAcrossClusters() throws {
        let r = try runCommand(try causewayBinary(), ["demo", "--once", "--sidecar-port", "0", "--admin-port", "0", "--requests", "3"], timeout: 60)
        XCTAssertEqual(r.status, 0, r.stdoutText + r.stderr)
        let lines = r.stdoutText.split(separator: "\n").filter { $0.contains(" in ") && $0.contains(" ms;") }
        XCTAssertEqual(lines.count, 3, r.stdoutText)
        for line in lines {
            XCTAssertTrue(line.contains("200 in"), String(line))
            XCTAssertTrue(line.contains("URI=spiffe://mesh.local/ns/default/sa/cluster1-sidecar"), String(line))
        }
        // The mirror at work: learned from the stream, then a second export appears.
        XCTAssertTrue(r.stdoutText.contains("cluster1 mirrored from cluster2's export stream:\n  webapp-cluster2.production  mirrored-by-stream"), r.stdoutText)
        XCTAssertTrue(r.stdoutText.contains("  api-cluster2.production  mirrored-by-stream"), r.stdoutText)
        XCTAssertTrue(r.stdoutText.contains("api-cluster2 → hello from api in cluster2"), r.stdoutText)
        // The pod: its name resolved to a virtual IP, its HTTP/1.1 request served by cluster2.
        XCTAssertTrue(r.stdoutText.contains("webapp-cluster2.production.svc.cluster.local → 240.240."), r.stdoutText)
        XCTAssertTrue(r.stdoutText.contains("http     HTTP/1.1 200 OK from cluster cluster2"), r.stdoutText)
    }
}
