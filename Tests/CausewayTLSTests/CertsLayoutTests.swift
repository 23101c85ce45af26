import CausewayTLS
import Foundation
import XCTest

/// The file layout `causeway certs` writes, through the same API.
final class CertsLayoutTests: XCTestCase {
    var directory = ""
    var layout = CertsLayout()
    let now = Date()
    let proxy = try! SPIFFEID(parsing: "spiffe://mesh.local/ns/production/sa/webapp")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("causeway-layout-\(UUID().uuidString)").path
        layout = CertsLayout(directory: directory + "/out")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    private func contents(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8)
    }

    private func makeAll() throws {
        _ = try layout.createRoot(keyAlgorithm: .ecP256, validity: .days(3650, from: now), force: false)
        _ = try layout.createIntermediate(cluster: "cluster1", keyAlgorithm: .ecP256, validity: .days(730, from: now), force: false)
        _ = try layout.issue(cluster: "cluster1", name: "proxy", spiffeID: proxy, alternativeNames: [.dns("proxy.cluster1.example")],
                             keyAlgorithm: .ecP256, validity: .days(365, from: now), force: false)
    }

    func testWritesTheDocumentedLayout() throws {
        try makeAll()
        let out = directory + "/out"
        XCTAssertEqual(layout.rootCertificatePath, out + "/root.pem")
        XCTAssertEqual(layout.rootKeyPath, out + "/root-key.pem")
        XCTAssertEqual(layout.intermediateCertificatePath(cluster: "cluster1"), out + "/cluster1/ca.pem")
        XCTAssertEqual(layout.intermediateKeyPath(cluster: "cluster1"), out + "/cluster1/ca-key.pem")
        XCTAssertEqual(layout.chainPath(cluster: "cluster1", name: "proxy"), out + "/cluster1/proxy-chain.pem")
        XCTAssertEqual(layout.keyPath(cluster: "cluster1", name: "proxy"), out + "/cluster1/proxy-key.pem")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out)), ["root.pem", "root-key.pem", "cluster1"])
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out + "/cluster1")),
                       ["ca.pem", "ca-key.pem", "proxy-chain.pem", "proxy-key.pem"])

        let root = try Certificate(pem: contents(layout.rootCertificatePath))
        let intermediate = try Certificate(pem: contents(layout.intermediateCertificatePath(cluster: "cluster1")))
        let chain = try Certificate.chain(pem: contents(layout.chainPath(cluster: "cluster1", name: "proxy")))
        XCTAssertEqual(chain.count, 2)
        XCTAssertEqual(try chain[0].spiffeID(), proxy)
        XCTAssertEqual(chain[1].serialNumberHex, intermediate.serialNumberHex)
        XCTAssertTrue(chain[0].isIssued(by: intermediate))
        XCTAssertTrue(intermediate.isIssued(by: root))
        XCTAssertTrue(try PrivateKey(pem: contents(layout.keyPath(cluster: "cluster1", name: "proxy"))).matches(chain[0]))
        XCTAssertTrue(try PrivateKey(pem: contents(layout.rootKeyPath)).matches(root))
    }

    func testKeysAre0600AndCertificates0644() throws {
        let previous = umask(0o000)  // even a permissive umask must not widen a key
        defer { umask(previous) }
        try makeAll()
        for key in [layout.rootKeyPath, layout.intermediateKeyPath(cluster: "cluster1"), layout.keyPath(cluster: "cluster1", name: "proxy")] {
            XCTAssertEqual(try mode(key), 0o600, key)
        }
        for certificate in [layout.rootCertificatePath, layout.intermediateCertificatePath(cluster: "cluster1"), layout.chainPath(cluster: "cluster1", name: "proxy")] {
            XCTAssertEqual(try mode(certificate), 0o644, certificate)
        }
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: directory + "/out/cluster1").contains { $0.contains(".tmp-") })
    }

    func testNeverReplacesAKeyWithoutForce() throws {
        try makeAll()
        let rootKey = try contents(layout.rootKeyPath)
        let rootCertificate = try contents(layout.rootCertificatePath)
        XCTAssertThrowsError(try layout.createRoot(keyAlgorithm: .ecP256, validity: .days(10, from: now), force: false)) { error in
            guard case .keyExists(let path) = error as? CertsLayoutError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, layout.rootKeyPath)
            XCTAssertTrue((error as? CertsLayoutError)?.isUsageError ?? false)
            XCTAssertTrue("\(error)".contains("--force"))
        }
        XCTAssertEqual(try contents(layout.rootKeyPath), rootKey)
        XCTAssertEqual(try contents(layout.rootCertificatePath), rootCertificate)

        let leafKey = try contents(layout.keyPath(cluster: "cluster1", name: "proxy"))
        XCTAssertThrowsError(try layout.issue(cluster: "cluster1", name: "proxy", spiffeID: proxy, keyAlgorithm: .ecP256,
                                              validity: .days(30, from: now), force: false))
        XCTAssertEqual(try contents(layout.keyPath(cluster: "cluster1", name: "proxy")), leafKey)

        // With force: a new key, still 0600, and a certificate that matches it.
        _ = try layout.issue(cluster: "cluster1", name: "proxy", spiffeID: proxy, keyAlgorithm: .rsa2048, validity: .days(30, from: now), force: true)
        let newKey = try contents(layout.keyPath(cluster: "cluster1", name: "proxy"))
        XCTAssertNotEqual(newKey, leafKey)
        XCTAssertEqual(try mode(layout.keyPath(cluster: "cluster1", name: "proxy")), 0o600)
        let chain = try Certificate.chain(pem: contents(layout.chainPath(cluster: "cluster1", name: "proxy")))
        XCTAssertTrue(try PrivateKey(pem: newKey).matches(chain[0]))
        XCTAssertEqual(try PrivateKey(pem: newKey).algorithm, .rsa2048)
    }

    func testMissingIssuersSayWhatToRunFirst() throws {
        XCTAssertThrowsError(try layout.createIntermediate(cluster: "cluster1", keyAlgorithm: .ecP256, validity: .days(1, from: now), force: false)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(layout.rootCertificatePath), message)
            XCTAssertTrue(message.contains("causeway certs root --out \(layout.directory)"), message)
            XCTAssertTrue((error as? CertsLayoutError)?.isUsageError ?? false)
        }
        _ = try layout.createRoot(keyAlgorithm: .ecP256, validity: .days(3650, from: now), force: false)
        XCTAssertThrowsError(try layout.issue(cluster: "cluster9", name: "proxy", spiffeID: proxy, keyAlgorithm: .ecP256,
                                              validity: .days(1, from: now), force: false)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(layout.intermediateCertificatePath(cluster: "cluster9")), message)
            XCTAssertTrue(message.contains("causeway certs intermediate --cluster cluster9"), message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: layout.keyPath(cluster: "cluster9", name: "proxy")))
    }

    func testRefusesNamesThatAreNotDNSLabels() throws {
        _ = try layout.createRoot(keyAlgorithm: .ecP256, validity: .days(3650, from: now), force: false)
        for bad in ["../escape", "a/b", "", "UPPER", "-x"] {
            XCTAssertThrowsError(try layout.createIntermediate(cluster: bad, keyAlgorithm: .ecP256, validity: .days(1, from: now), force: false), bad) { error in
                XCTAssertTrue((error as? CertsLayoutError)?.isUsageError ?? false, "\(error)")
            }
        }
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: layout.directory)), ["root.pem", "root-key.pem"])
    }

    func testUnreadableIssuerIsReportedWithItsPath() throws {
        _ = try layout.createRoot(keyAlgorithm: .ecP256, validity: .days(3650, from: now), force: false)
        try "garbage".write(toFile: layout.rootCertificatePath, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try layout.loadRoot()) { error in
            XCTAssertTrue("\(error)".hasPrefix(layout.rootCertificatePath), "\(error)")
            XCTAssertFalse((error as? CertsLayoutError)?.isUsageError ?? true)
        }
    }
}
