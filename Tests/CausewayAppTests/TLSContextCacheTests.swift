import CausewayProxy
import CausewayTLS
import Foundation
import Testing
@testable import CausewayApp

#if canImport(Glibc)
import Glibc
#endif

/// Real certificates (made by `CertsLayout`, as `causeway certs` makes them) behind a
/// loaded `Proxy`, for the TLS context cache.
private struct TLSTree {
    static let gatewayID = "spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway"
    let tree: ConfigTree
    let layout: CertsLayout

    init(grace: String? = nil) throws {
        tree = try ConfigTree([:])
        layout = CertsLayout(directory: tree.root + "/certs")
        _ = try layout.createRoot(keyAlgorithm: .ecP256, validity: .days(3650, from: Date()), force: false)
        _ = try layout.createIntermediate(cluster: "cluster2", keyAlgorithm: .ecP256, validity: .days(1000, from: Date()), force: false)
        try issue(days: 365)
        try writeConfig(grace: grace)
    }

    func writeConfig(grace: String?) throws {
        try tree.write("causeway.yaml", proxyYAML("""
              trustDomain: mesh.local
              tls:
                trustBundle: certs/root.pem
                certificateChain: certs/cluster2/gateway-chain.pem
                privateKey: certs/cluster2/gateway-key.pem
            \(grace.map { "    rotationGracePeriod: \($0)" } ?? "")

            """))
    }

    func issue(days: Int, name: String = "gateway", validity: Validity? = nil) throws {
        _ = try layout.issue(cluster: "cluster2", name: name, spiffeID: SPIFFEID(parsing: Self.gatewayID), keyAlgorithm: .ecP256,
                             validity: validity ?? .days(days, from: Date()), force: true)
    }

    var keyPath: String { layout.keyPath(cluster: "cluster2", name: "gateway") }
    var chainPath: String { layout.chainPath(cluster: "cluster2", name: "gateway") }

    func proxy() throws -> ProxyConfig { try tree.load().get().proxy }

    func remove() { tree.remove() }
}

@Suite("TLS contexts: reused while the files are unchanged, rebuilt when they change")
struct TLSContextCacheTests {
    @Test("unchanged files give the same contexts; reissued ones give new contexts and new expiries")
    func reuseAndRebuild() throws {
        let pki = try TLSTree()
        defer { pki.remove() }
        let cache = TLSContextCache()
        let first = try cache.contexts(for: pki.proxy())
        let mesh = try #require(first.mesh)
        #expect(first.rebuilt == false, "the first contexts replace nothing")
        #expect(mesh.rotationGracePeriodNanos == 30_000_000_000)

        let again = try cache.contexts(for: pki.proxy())
        #expect(again.mesh?.server === mesh.server)
        #expect(again.mesh?.client === mesh.client)
        #expect(again.rebuilt == false)
        #expect(again.mesh?.hasSameContexts(as: mesh) == true)

        try pki.issue(days: 100)
        let rotated = try cache.contexts(for: pki.proxy())
        #expect(rotated.rebuilt)
        #expect(rotated.mesh?.server !== mesh.server)
        #expect(rotated.mesh?.client !== mesh.client)
        #expect(rotated.mesh?.hasSameContexts(as: mesh) == false)
        #expect(rotated.notes.contains { $0.contains("new contexts from \(pki.chainPath)") })
        let chainExpiry = try #require(rotated.expiries.first { $0.file == pki.chainPath })
        let expected = Date().addingTimeInterval(100 * 86_400).timeIntervalSince1970
        #expect(abs(Double(chainExpiry.notAfterSeconds) - expected) < 120)
        #expect(first.expiries.first { $0.file == pki.chainPath }!.notAfterSeconds > chainExpiry.notAfterSeconds)
        let bundleExpiry = try #require(rotated.expiries.first { $0.file == pki.layout.rootCertificatePath })
        #expect(abs(Double(bundleExpiry.notAfterSeconds) - Date().addingTimeInterval(3650 * 86_400).timeIntervalSince1970) < 120)
    }

    @Test("a new grace period alone keeps the contexts")
    func graceOnly() throws {
        let pki = try TLSTree()
        defer { pki.remove() }
        let cache = TLSContextCache()
        let first = try #require(try cache.contexts(for: pki.proxy()).mesh)
        try pki.writeConfig(grace: "0s")
        let next = try cache.contexts(for: pki.proxy())
        #expect(next.rebuilt == false)
        #expect(next.mesh?.hasSameContexts(as: first) == true)
        #expect(next.mesh?.rotationGracePeriodNanos == 0)
    }

    @Test("a key that does not match the certificate is refused, naming the key; the contexts in use stay")
    func mismatchedKey() throws {
        let pki = try TLSTree()
        defer { pki.remove() }
        let cache = TLSContextCache()
        let first = try #require(try cache.contexts(for: pki.proxy()).mesh)
        let goodKey = try Data(contentsOf: URL(fileURLWithPath: pki.keyPath))
        try pki.issue(days: 30, name: "other")
        let otherKey = try Data(contentsOf: URL(fileURLWithPath: pki.layout.keyPath(cluster: "cluster2", name: "other")))
        try otherKey.write(to: URL(fileURLWithPath: pki.keyPath))
        chmod(pki.keyPath, 0o600)

        let error = #expect(throws: TLSFilesError.self) { try cache.contexts(for: pki.proxy()) }
        #expect(error?.file == pki.keyPath)
        #expect(error?.problem.field == "spec.tls.privateKey")
        #expect(error?.message.contains("does not match the certificate in \(pki.chainPath)") == true)

        // Put back: the bytes are those in use, so the same contexts serve on.
        try goodKey.write(to: URL(fileURLWithPath: pki.keyPath))
        let restored = try cache.contexts(for: pki.proxy())
        #expect(restored.mesh?.hasSameContexts(as: first) == true)
        #expect(restored.rebuilt == false)
    }

    @Test("a key opened to group or others is refused even when its bytes are unchanged")
    func looseKeyMode() throws {
        let pki = try TLSTree()
        defer { pki.remove() }
        let cache = TLSContextCache()
        let first = try #require(try cache.contexts(for: pki.proxy()).mesh)
        chmod(pki.keyPath, 0o644)
        let error = #expect(throws: TLSFilesError.self) { try cache.contexts(for: pki.proxy()) }
        #expect(error?.file == pki.keyPath)
        #expect(error?.message.contains("accessible to group or others (mode 0644)") == true)
        chmod(pki.keyPath, 0o600)
        #expect(try cache.contexts(for: pki.proxy()).mesh?.hasSameContexts(as: first) == true)
    }

    @Test("an expired certificate is refused; the contexts in use stay")
    func expiredCertificate() throws {
        let pki = try TLSTree()
        defer { pki.remove() }
        let cache = TLSContextCache()
        let first = try #require(try cache.contexts(for: pki.proxy()).mesh)
        try pki.issue(days: 0, validity: Validity(notBefore: Date().addingTimeInterval(-86_400 * 10), notAfter: Date().addingTimeInterval(-60)))
        let error = #expect(throws: TLSFilesError.self) { try cache.contexts(for: pki.proxy()) }
        #expect(error?.file == pki.chainPath)
        #expect(error?.problem.field == "spec.tls.certificateChain")
        #expect(error?.message.contains("expired") == true)
        // A good one after the refusal is built and replaces the first.
        try pki.issue(days: 30)
        let next = try cache.contexts(for: pki.proxy())
        #expect(next.rebuilt)
        #expect(next.mesh?.hasSameContexts(as: first) == false)
    }
}
