import Foundation
import Glibc
import XCTest

/// Issue 9: the resource files and folders and the TLS files are watched; a change is a new
/// snapshot without SIGHUP, a broken file is reported and changes nothing, and a certificate
/// rotated on disk is used by new connections without failing a request.
final class WatchAndRotationTests: XCTestCase {
    // MARK: Resource files

    func testASliceWrittenIntoAWatchedFolderRoutesWithinASecond() throws {
        let (dir, backend, sidecar) = try sidecarWithSlicesFolder()
        defer { sidecar.stop(); backend.stop() }
        XCTAssertEqual(try code(sidecar, "second"), "404")

        try dir.write("slices/second.yaml", slice("second", port: backend.port))
        let written = Date()
        try waitFor(seconds: 5, sidecar.process) { (try? self.code(sidecar, "second")) == "200" }
        let elapsed = Date().timeIntervalSince(written)
        XCTAssertLessThan(elapsed, 1.0, "routed \(elapsed) s after the write:\n\(sidecar.process.log)")
        XCTAssertEqual(try code(sidecar, "first"), "200")
        XCTAssertTrue(sidecar.process.log.contains("after file change: \(dir.path("slices/second.yaml"))"), sidecar.process.log)
        let lastReload = try XCTUnwrap(try config(sidecar)["lastReload"] as? [String: Any])
        XCTAssertEqual(lastReload["status"] as? String, "applied")
    }

    func testAnInvalidFileDroppedIntoTheFolderIsReportedAndChangesNothing() throws {
        let (dir, backend, sidecar) = try sidecarWithSlicesFolder()
        defer { sidecar.stop(); backend.stop() }
        let before = try config(sidecar)["services"] as? [[String: Any]]

        // Line 5 holds the bad port; the file also names a new service, which must not appear.
        try dir.write("slices/third.yaml", slice("third", port: 99_999))
        try waitFor(seconds: 5, sidecar.process) { sidecar.process.log.contains("reload rejected") }
        let log = sidecar.process.log
        XCTAssertTrue(log.contains("slices/third.yaml:5:"), log)
        XCTAssertTrue(log.contains("ports[0].port: 99999 is out of range"), log)

        let effective = try config(sidecar)
        let lastReload = try XCTUnwrap(effective["lastReload"] as? [String: Any], "\(effective)")
        XCTAssertEqual(lastReload["status"] as? String, "rejected")
        XCTAssertTrue((lastReload["trigger"] as? String)?.contains("slices/third.yaml") == true, "\(lastReload)")
        let problem = try XCTUnwrap((lastReload["problems"] as? [[String: Any]])?.first)
        XCTAssertTrue((problem["file"] as? String)?.hasSuffix("slices/third.yaml") == true, "\(problem)")
        XCTAssertEqual(problem["line"] as? Int, 5)
        XCTAssertEqual(problem["field"] as? String, "ports[0].port")
        // The previous snapshot stays: same services, same routing.
        XCTAssertEqual((effective["services"] as? [[String: Any]])?.count, before?.count)
        XCTAssertEqual(try code(sidecar, "first"), "200")
        XCTAssertEqual(try code(sidecar, "third"), "404")

        // Fixing the file applies it.
        try dir.write("slices/third.yaml", slice("third", port: backend.port))
        try waitFor(seconds: 5, sidecar.process) { (try? self.code(sidecar, "third")) == "200" }
        XCTAssertEqual((try config(sidecar)["lastReload"] as? [String: Any])?["status"] as? String, "applied")
    }

    func testWatchFalseLeavesReloadingToSIGHUP() throws {
        let (dir, backend, sidecar) = try sidecarWithSlicesFolder(extraSpec: "  watch: false")
        defer { sidecar.stop(); backend.stop() }
        try dir.write("slices/second.yaml", slice("second", port: backend.port))
        usleep(1_500_000)  // well past the 1 s a watched change takes at most
        XCTAssertEqual(try code(sidecar, "second"), "404", sidecar.process.log)
        XCTAssertFalse(sidecar.process.log.contains("reloaded"), sidecar.process.log)
        kill(sidecar.process.pid, SIGHUP)
        try waitFor(seconds: 5, sidecar.process) { (try? self.code(sidecar, "second")) == "200" }
        XCTAssertTrue(sidecar.process.log.contains("after SIGHUP"), sidecar.process.log)
        XCTAssertEqual((try config(sidecar)["lastReload"] as? [String: Any])?["trigger"] as? String, "SIGHUP")
    }

    func testAHundredEditsOfAResourceFileUnderLoadFailNoRequest() throws {
        let (dir, backend, sidecar) = try sidecarWithSlicesFolder()
        defer { sidecar.stop(); backend.stop() }
        // nghttpd listens on every address: 127.0.0.1 and 127.0.0.2 are two endpoints (two
        // pools) of one backend.
        func edit(_ i: Int) throws {
            let text = slice("backend", port: backend.port, addresses: i % 2 == 0 ? ["127.0.0.1"] : ["127.0.0.1", "127.0.0.2"])
            if i % 3 == 0 && i > 0 {
                // In place (truncate, then write): a reload may read it half-written and be
                // rejected, which must not matter either.
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.path("slices/backend.yaml")))
                try handle.truncate(atOffset: 0)
                try handle.write(contentsOf: Data(text.utf8))
                try handle.close()
            } else {
                try dir.write("slices/backend.yaml", text)  // written beside, renamed over
            }
        }
        try edit(0)
        try waitFor(seconds: 5, sidecar.process) { (try? self.code(sidecar, "backend")) == "200" }

        let load = try TestProcess("h2load", executable: "h2load", arguments: [
            "-D", "6", "-c", "4", "-m", "8", "-t", "1", "-H", ":authority: backend", sidecar.url("/hello"),
        ])
        usleep(300_000)
        for i in 1...100 {
            try edit(i)
            // Bursts of ten 20 ms apart, then a pause past the quiet period: both coalescing
            // and many separate snapshots.
            usleep(i % 10 == 0 ? 300_000 : 20_000)
        }
        try load.waitForExit()
        let output = load.log
        XCTAssertTrue(output.contains(" 0 failed, 0 errored, 0 timeout"), output)
        XCTAssertTrue(output.contains(" 0 3xx, 0 4xx, 0 5xx"), output)
        let succeeded = output.components(separatedBy: "done, ").dropFirst().first?.split(separator: " ").first.flatMap { Int($0) } ?? 0
        XCTAssertGreaterThan(succeeded, 1_000, output)
        let reloads = sidecar.process.log.components(separatedBy: "causeway: reloaded").count - 1
        XCTAssertGreaterThanOrEqual(reloads, 8, sidecar.process.log)
        XCTAssertLessThan(reloads, 100, "bursts are coalesced")
        XCTAssertEqual(try code(sidecar, "backend"), "200")
    }

    // MARK: Certificates

    func testAGatewayCertificateReissuedOnDiskUnderLoadIsUsedByNewConnections() throws {
        let dir = try TempDir()
        let mesh = try crossClusterMesh(dir, gatewayTLS: ", rotationGracePeriod: 1s")
        defer { mesh.stop() }
        let before = try gatewaySerial(mesh)
        let handshakesBefore = try metric(mesh, mesh.sidecarAdminPort, #"causeway_tls_handshakes_total{cluster="cluster1",side="upstream"}"#)

        let load = try TestProcess("h2load", executable: "h2load", arguments: [
            "-D", "5", "-c", "4", "-m", "8", "-t", "1", "-H", ":authority: webapp-cluster2", mesh.sidecarURL + "/hello",
        ])
        usleep(1_000_000)
        // The rotation is one command: the same name, --force, the same CA.
        let renew = try runCommand(try causewayBinary(), [
            "certs", "issue", "--cluster", "cluster2", "--name", "gateway", "--force", "--spiffe-id", MeshPKI.gatewayID,
            "--ip", "127.0.0.1", "--days", "200", "--out", mesh.pki.directory,
        ])
        XCTAssertEqual(renew.status, 0, renew.stderr)
        var after = before
        try waitFor(seconds: 5, mesh.gateway) {
            after = (try? self.gatewaySerial(mesh)) ?? before
            return after != before
        }
        try load.waitForExit()
        XCTAssertTrue(load.log.contains(" 0 failed, 0 errored, 0 timeout"), load.log + mesh.sidecar.log + mesh.gateway.log)
        XCTAssertTrue(load.log.contains(" 0 3xx, 0 4xx, 0 5xx"), load.log + mesh.sidecar.log + mesh.gateway.log)
        XCTAssertTrue(mesh.gateway.log.contains("tls: new contexts from \(mesh.pki.chain("cluster2", "gateway"))"), mesh.gateway.log)

        // The sidecar's connections made under the old certificate were drained and it
        // reconnected (new handshakes), over the 1 s grace period.
        XCTAssertGreaterThanOrEqual(try metric(mesh, mesh.gatewayAdminPort, #"causeway_tls_rotation_drains_total{cluster="cluster2"}"#), 1)
        XCTAssertGreaterThan(try metric(mesh, mesh.sidecarAdminPort, #"causeway_tls_handshakes_total{cluster="cluster1",side="upstream"}"#),
                             handshakesBefore)
        // The expiry metric follows the file in use.
        let expiry = try metric(mesh, mesh.gatewayAdminPort,
                                #"causeway_certificate_expiry_timestamp_seconds{cluster="cluster2",file="\#(mesh.pki.chain("cluster2", "gateway"))"}"#)
        XCTAssertEqual(Double(expiry), Date().addingTimeInterval(200 * 86_400).timeIntervalSince1970, accuracy: 600)
        XCTAssertEqual(try code(mesh), "200")
    }

    func testAMismatchedKeyIsRefusedAndTheOldCertificateKeepsServing() throws {
        let dir = try TempDir()
        let mesh = try crossClusterMesh(dir)
        defer { mesh.stop() }
        let serial = try gatewaySerial(mesh)
        let keyPath = mesh.pki.key("cluster2", "gateway")
        let goodKey = try Data(contentsOf: URL(fileURLWithPath: keyPath))

        // Another certificate's key over the gateway's: the pair no longer matches.
        try mesh.pki.layout.issue(cluster: "cluster2", name: "other", spiffeID: nil, keyAlgorithm: .ecP256,
                                  validity: .days(30, from: Date()), force: true)
        try replace(keyPath, with: try Data(contentsOf: URL(fileURLWithPath: mesh.pki.key("cluster2", "other"))), mode: 0o600)
        try waitFor(seconds: 5, mesh.gateway) { mesh.gateway.log.contains("reload rejected") }
        XCTAssertTrue(mesh.gateway.log.contains("\(keyPath): the private key does not match the certificate in \(mesh.pki.chain("cluster2", "gateway"))"),
                      mesh.gateway.log)
        let lastReload = try XCTUnwrap(try config(mesh.gatewayAdminPort)["lastReload"] as? [String: Any])
        XCTAssertEqual(lastReload["status"] as? String, "rejected")
        let problem = try XCTUnwrap((lastReload["problems"] as? [[String: Any]])?.first)
        XCTAssertEqual(problem["file"] as? String, keyPath)
        XCTAssertEqual(problem["field"] as? String, "spec.tls.privateKey")
        // New connections still get the old certificate; requests across still work.
        XCTAssertEqual(try gatewaySerial(mesh), serial)
        XCTAssertEqual(try code(mesh), "200")

        // The right key, but readable by others: refused as well.
        try replace(keyPath, with: goodKey, mode: 0o644)
        try waitFor(seconds: 5, mesh.gateway) { mesh.gateway.log.contains("mode 0644") }
        XCTAssertEqual(try gatewaySerial(mesh), serial)
        // Fixed: applied, and the contexts in use are kept (same bytes: nothing drains).
        chmod(keyPath, 0o600)
        try waitFor(seconds: 5, mesh.gateway) {
            ((try? self.config(mesh.gatewayAdminPort))?["lastReload"] as? [String: Any])?["status"] as? String == "applied"
        }
        XCTAssertFalse(mesh.gateway.log.contains("tls: new contexts"), mesh.gateway.log)
        XCTAssertEqual(try gatewaySerial(mesh), serial)
        XCTAssertEqual(try code(mesh), "200")
    }

    /// certs/README.md's root rotation, step by step with the same commands, on a running
    /// mesh whose proxies trust `bundle.pem`: the mesh stays connected at every step, and at
    /// the end the gateway's chain verifies against the new root alone.
    func testARootRotationWithAnOverlapBundleKeepsTheMeshConnected() throws {
        let dir = try TempDir()
        try dir.write("www/hello", "hello from cluster2\n")
        let mesh = try TwoClusterMesh(dir: dir, docroot: dir.path("www"), gatewayTLS: ", rotationGracePeriod: 1s") { pki in
            let bundle = pki.directory + "/bundle.pem"
            try FileManager.default.copyItem(atPath: pki.rootPath, toPath: bundle)
            return bundle
        }
        defer { mesh.stop() }
        XCTAssertEqual(try code(mesh), "200")
        let out = mesh.pki.directory
        let next = dir.path("certs-next")
        let causeway = try causewayBinary()
        func step(_ script: String) throws {
            let r = try runCommand("sh", ["-c", script])
            XCTAssertEqual(r.status, 0, "\(script): \(r.stderr)")
        }
        var rotations = 0
        /// Both proxies built new contexts, and a request crosses over a new connection.
        func bothRotated(_ what: String) throws {
            rotations += 1
            let handshakes = try metric(mesh, mesh.sidecarAdminPort, #"causeway_tls_handshakes_total{cluster="cluster1",side="upstream"}"#)
            for proxy in [mesh.gateway, mesh.sidecar] {
                try waitFor(seconds: 5, proxy) { proxy.log.components(separatedBy: "tls: new contexts").count - 1 >= rotations }
            }
            // Workers install the new snapshot just after the note is logged: a request may
            // still find the old pooled connection, the next one does not.
            var reconnected = false
            let deadline = Date().addingTimeInterval(5)
            while !reconnected && Date() < deadline {
                XCTAssertEqual(try code(mesh), "200", what)
                reconnected = try metric(mesh, mesh.sidecarAdminPort, #"causeway_tls_handshakes_total{cluster="cluster1",side="upstream"}"#) > handshakes
            }
            XCTAssertTrue(reconnected, "\(what): a request crossed over a new connection")
        }

        // 1. A new root beside the old one.
        try step("\(causeway) certs root --out \(next)")
        // 2. Every proxy trusts both roots.
        try step("cat \(out)/root.pem \(next)/root.pem > \(out)/bundle.pem.new && mv \(out)/bundle.pem.new \(out)/bundle.pem")
        try bothRotated("overlap bundle")
        // 3. The new root signs from now on (no proxy reads root.pem).
        try step("mv \(next)/root.pem \(next)/root-key.pem \(out)/")
        // 4. New intermediates, from the new root.
        try step("\(causeway) certs intermediate --cluster cluster1 --force --out \(out) && \(causeway) certs intermediate --cluster cluster2 --force --out \(out)")
        // 5. Every leaf reissued in place.
        try step("\(causeway) certs issue --cluster cluster2 --name gateway --force --spiffe-id \(MeshPKI.gatewayID) --ip 127.0.0.1 --out \(out)")
        try step("\(causeway) certs issue --cluster cluster1 --name sidecar --force --spiffe-id \(MeshPKI.sidecarID) --out \(out)")
        try bothRotated("leaves from the new root")
        // 6. The old root is dropped.
        try step("cp \(out)/root.pem \(out)/bundle.pem.new && mv \(out)/bundle.pem.new \(out)/bundle.pem")
        try bothRotated("new root only")

        let verify = try runCommand("sh", ["-c", "openssl s_client -connect 127.0.0.1:\(mesh.gatewayPort) -alpn h2 -CAfile \(out)/root.pem -verify_return_error"
            + " -cert \(mesh.pki.chain("cluster1", "sidecar")) -cert_chain \(mesh.pki.chain("cluster1", "sidecar")) -key \(mesh.pki.key("cluster1", "sidecar"))"
            + " </dev/null 2>&1"])
        XCTAssertTrue(verify.stdoutText.contains("Verify return code: 0 (ok)"), verify.stdoutText + mesh.gateway.log)
        let sidecarMetrics = try mesh.admin(mesh.sidecarAdminPort, "/metrics")
        XCTAssertFalse(sidecarMetrics.contains(#"causeway_tls_handshake_failures_total{cluster="cluster1",side="upstream""#), sidecarMetrics)
    }

    // MARK: Helpers

    /// nghttpd serving `/hello`, and a sidecar with service `first` in its config file and
    /// `spec.resources: [ slices/ ]` (empty at start).
    private func sidecarWithSlicesFolder(extraSpec: String = "") throws -> (TempDir, NghttpdBackend, CausewaySidecar) {
        let dir = try TempDir()
        try dir.write("www/hello", "hello\n")
        try FileManager.default.createDirectory(atPath: dir.path("slices"), withIntermediateDirectories: true)
        let backend = try NghttpdBackend(docroot: dir.path("www"))
        let sidecar = try CausewaySidecar(dir: dir, services: ["first": [TestEndpoint(port: backend.port)]], workers: 2,
                                          extraProxySpec: "  resources: [ slices/ ]\n" + extraSpec)
        return (dir, backend, sidecar)
    }

    /// An EndpointSlice for service `name`; the port is on line 5.
    private func slice(_ name: String, port: Int, addresses: [String] = ["127.0.0.1"]) -> String {
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: \(name)-1, namespace: default, labels: { kubernetes.io/service-name: \(name) } }
        addressType: IPv4
        ports: [ { name: http, port: \(port), protocol: TCP, appProtocol: kubernetes.io/h2c } ]
        endpoints: [ { addresses: [ \(addresses.map { "\"\($0)\"" }.joined(separator: ", ")) ], conditions: { ready: true } } ]

        """
    }

    private func slice(_ name: String, port: UInt16, addresses: [String] = ["127.0.0.1"]) -> String {
        slice(name, port: Int(port), addresses: addresses)
    }

    private func code(_ sidecar: CausewaySidecar, _ host: String) throws -> String {
        try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                                "-H", "host: \(host)", sidecar.url("/hello")]).stdoutText
    }

    private func code(_ mesh: TwoClusterMesh) throws -> String {
        try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                                "-H", "host: webapp-cluster2", mesh.sidecarURL + "/hello"]).stdoutText
    }

    private func config(_ sidecar: CausewaySidecar) throws -> [String: Any] {
        try config(sidecar.adminPort)
    }

    private func config(_ adminPort: UInt16) throws -> [String: Any] {
        let text = try runCommand("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(adminPort)/config"]).stdout
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: text) as? [String: Any])
    }

    private func crossClusterMesh(_ dir: TempDir, gatewayTLS: String = "") throws -> TwoClusterMesh {
        try dir.write("www/hello", "hello from cluster2\n")
        return try TwoClusterMesh(dir: dir, docroot: dir.path("www"), gatewayTLS: gatewayTLS)
    }

    /// The serial number of the certificate the gateway presents to a new connection.
    private func gatewaySerial(_ mesh: TwoClusterMesh) throws -> String {
        let pki = mesh.pki
        let script = "openssl s_client -connect 127.0.0.1:\(mesh.gatewayPort) -alpn h2 -CAfile '\(pki.rootPath)'"
            + " -cert '\(pki.chain("cluster1", "sidecar"))' -cert_chain '\(pki.chain("cluster1", "sidecar"))' -key '\(pki.key("cluster1", "sidecar"))'"
            + " </dev/null 2>/dev/null | openssl x509 -noout -serial"
        let r = try runCommand("sh", ["-c", script], timeout: 10)
        let serial = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard serial.hasPrefix("serial=") else { throw HarnessError("no certificate from the gateway: \(r.stdoutText) \(r.stderr)") }
        return serial
    }

    /// The value of the series `series` (name and labels, exactly as rendered) at `/metrics`.
    private func metric(_ mesh: TwoClusterMesh, _ adminPort: UInt16, _ series: String) throws -> Int {
        let text = try mesh.admin(adminPort, "/metrics")
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(series + " ") }),
              let value = Int(line.split(separator: " ").last ?? "") else {
            throw HarnessError("\(series) not in /metrics:\n\(text)")
        }
        return value
    }

    /// Writes `data` beside `path` with `mode`, then renames it over `path` (as tools do).
    private func replace(_ path: String, with data: Data, mode: mode_t) throws {
        let temporary = path + ".tmp-\(UUID().uuidString)"
        try data.write(to: URL(fileURLWithPath: temporary))
        chmod(temporary, mode)
        guard rename(temporary, path) == 0 else { throw HarnessError("rename \(temporary): errno \(errno)") }
    }

    private func waitFor(seconds: Double, _ process: TestProcess, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { throw HarnessError("condition not met within \(seconds) s:\n\(process.log)") }
            usleep(20_000)
        }
    }
}
