import Foundation
import XCTest
import Yams

/// `deploy/`: every manifest is strict YAML (no parse errors, duplicate keys or tabs) made of
/// Kubernetes objects with an identity, the sidecar pod is wired as the README says, and the
/// Causeway configuration inside the ConfigMaps passes `causeway validate` (and, for the
/// sidecar, `causeway capture` prints its rules).
final class DeployManifestTests: XCTestCase {
    /// The repository's `deploy/`.
    static let deployDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy")

    /// A manifest problem: where and what.
    struct LintError: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses `text` strictly: no tab anywhere (YAML forbids them in indentation, and a tab in
    /// a value is almost always a mistake), no syntax error, no duplicate key in any mapping
    /// (Yams' parser refuses them), no document that is empty. Returns the documents.
    static func lint(_ text: String, file: String) throws -> [Node] {
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where line.contains("\t") {
            throw LintError(description: "\(file):\(number + 1): a tab character")
        }
        var documents: [Node] = []
        do {
            let parser = try Parser(yaml: text)
            while let root = try parser.nextRoot() {
                guard root.null == nil else { throw LintError(description: "\(file): an empty document") }
                documents.append(root)
            }
        } catch let error as YamlError {
            throw LintError(description: "\(file): \(error)")
        }
        return documents
    }

    /// Every `deploy/*.yaml`, by name, with its documents.
    static func manifests() throws -> [(file: String, documents: [Node])] {
        let names = try FileManager.default.contentsOfDirectory(atPath: deployDirectory.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        guard !names.isEmpty else { throw LintError(description: "no manifests in \(deployDirectory.path)") }
        return try names.map { name in
            let text = try String(contentsOf: deployDirectory.appendingPathComponent(name), encoding: .utf8)
            return ("deploy/\(name)", try lint(text, file: "deploy/\(name)"))
        }
    }

    /// Objects of `kind` across the manifests.
    static func objects(_ kind: String) throws -> [Node] {
        try manifests().flatMap(\.documents).filter { $0["kind"]?.string == kind }
    }

    static let namespacedKinds: Set<String> = ["ConfigMap", "Deployment", "Service", "Secret"]
    static let knownKinds: Set<String> = namespacedKinds.union(["Namespace"])

    func testTheLintRefusesDuplicateKeysTabsAndSyntaxErrors() {
        let cases = [
            ("duplicate key", "apiVersion: v1\nkind: ConfigMap\nkind: Secret\n"),
            ("nested duplicate", "metadata:\n  name: a\n  name: b\n"),
            ("tab", "metadata:\n\tname: a\n"),
            ("tab in a value", "metadata:\n  name: \"a\tb\"\n"),
            ("syntax", "metadata: [ name\n"),
            ("empty document", "a: 1\n---\n---\nb: 2\n"),
        ]
        for (name, text) in cases {
            XCTAssertThrowsError(try Self.lint(text, file: name), name)
        }
        XCTAssertEqual(try Self.lint("a: 1\n---\nb: [ 1, 2 ]\n", file: "ok").count, 2)
    }

    func testEveryManifestIsStrictYAMLOfKubernetesObjects() throws {
        let manifests = try Self.manifests()
        XCTAssertGreaterThanOrEqual(manifests.count, 3)
        for (file, documents) in manifests {
            XCTAssertFalse(documents.isEmpty, file)
            for document in documents {
                let kind = document["kind"]?.string ?? ""
                let name = document["metadata"]?["name"]?.string ?? ""
                let what = "\(file): \(kind) \(name)"
                XCTAssertNotNil(document["apiVersion"]?.string, what)
                XCTAssertTrue(Self.knownKinds.contains(kind), "\(what): unexpected kind")
                XCTAssertFalse(name.isEmpty, "\(what): metadata.name")
                XCTAssertNotNil(name.range(of: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", options: .regularExpression), "\(what): metadata.name")
                if Self.namespacedKinds.contains(kind) {
                    XCTAssertNotNil(document["metadata"]?["namespace"]?.string, "\(what): metadata.namespace")
                }
                // Files inside ConfigMaps are YAML too, and as strict.
                if kind == "ConfigMap", let data = document["data"]?.mapping {
                    for (key, value) in data where key.string?.hasSuffix(".yaml") == true {
                        let text = try XCTUnwrap(value.string, "\(what): data.\(key.string ?? "")")
                        XCTAssertFalse(try Self.lint(text, file: "\(what) data.\(key.string!)").isEmpty)
                    }
                }
            }
        }
    }

    func testTheSidecarPodIsWiredForCaptureAndDNS() throws {
        let deployments = try Self.objects("Deployment")
        let configMaps = try Self.objects("ConfigMap")
        let frontend = try XCTUnwrap(deployments.first { $0["metadata"]?["name"]?.string == "frontend" })
        let pod = try XCTUnwrap(frontend["spec"]?["template"]?["spec"])

        let initContainers = pod["initContainers"]?.array() ?? []
        XCTAssertEqual(initContainers.count, 1)
        let capture = try XCTUnwrap(initContainers.first)
        XCTAssertEqual(capture["command"]?.array(of: String.self), ["causeway", "capture", "--apply", "--config", "/etc/causeway/proxy.yaml"])
        XCTAssertEqual(capture["securityContext"]?["runAsUser"]?.int, 0)
        XCTAssertEqual(Set(capture["securityContext"]?["capabilities"]?["add"]?.array(of: String.self) ?? []), ["NET_ADMIN", "NET_RAW"])

        let containers = pod["containers"]?.array() ?? []
        let sidecar = try XCTUnwrap(containers.first { $0["name"]?.string == "causeway" })
        XCTAssertEqual(sidecar["args"]?.array(of: String.self), ["run", "--config", "/etc/causeway/proxy.yaml"])
        XCTAssertEqual(sidecar["image"]?.string, capture["image"]?.string)

        // Every mount names a volume of the pod; the config volume is a ConfigMap of deploy/.
        let volumes = pod["volumes"]?.array() ?? []
        let volumeNames = Set(volumes.compactMap { $0["name"]?.string })
        for container in initContainers + containers {
            for mount in container["volumeMounts"]?.array() ?? [] {
                XCTAssertTrue(volumeNames.contains(mount["name"]?.string ?? ""), "mount \(mount)")
            }
        }
        let configVolume = try XCTUnwrap(sidecar["volumeMounts"]?.array().first { $0["mountPath"]?.string == "/etc/causeway" })
        let configMapName = try XCTUnwrap(volumes.first { $0["name"] == configVolume["name"] }?["configMap"]?["name"]?.string)
        let configMap = try XCTUnwrap(configMaps.first { $0["metadata"]?["name"]?.string == configMapName })
        XCTAssertEqual(configMap["metadata"]?["namespace"]?.string, frontend["metadata"]?["namespace"]?.string)

        // The pod's resolver is the sidecar: 127.0.0.1 port 53, which capture redirects.
        XCTAssertEqual(pod["dnsPolicy"]?.string, "None")
        XCTAssertEqual(pod["dnsConfig"]?["nameservers"]?.array(of: String.self), ["127.0.0.1"])
        let proxy = try XCTUnwrap(try Self.lint(XCTUnwrap(configMap["data"]?["proxy.yaml"]?.string), file: "proxy.yaml").first)
        XCTAssertEqual(proxy["kind"]?.string, "Proxy")
        XCTAssertNotNil(proxy["spec"]?["capture"]?.mapping)
        XCTAssertEqual(proxy["spec"]?["dns"]?["address"]?.string, "127.0.0.1:15053")
        XCTAssertEqual(proxy["spec"]?["listeners"]?[0]?["role"]?.string, "sidecar")
    }

    /// Writes the Causeway files of each ConfigMap holding a `proxy.yaml` into a directory
    /// laid out as in the pod (`/etc/causeway`, the TLS Secret under `tls/`), then runs
    /// `causeway validate` on it; for the sidecar, also `causeway capture` (print only).
    func testTheCausewayConfigurationValidates() throws {
        let binary = try causewayBinary()
        let proxies = try Self.objects("ConfigMap").filter { $0["data"]?["proxy.yaml"] != nil }
        XCTAssertEqual(proxies.count, 2)
        for configMap in proxies {
            let name = configMap["metadata"]?["name"]?.string ?? ""
            let dir = try TempDir()
            for (key, value) in try XCTUnwrap(configMap["data"]?.mapping) {
                try dir.write(try XCTUnwrap(key.string), try XCTUnwrap(value.string))
            }
            // The Secret volume (certificates made per deployment, `causeway certs`): files
            // at the paths spec.tls names, as the kubelet would mount them.
            let proxy = try XCTUnwrap(try Self.lint(XCTUnwrap(configMap["data"]?["proxy.yaml"]?.string), file: name).first)
            for field in ["trustBundle", "certificateChain", "privateKey"] {
                let path = try XCTUnwrap(proxy["spec"]?["tls"]?[field]?.string, "\(name): spec.tls.\(field)")
                XCTAssertTrue(path.hasPrefix("tls/"), "\(name): \(path) is not in the Secret's mount")
                try dir.write(path, "placeholder\n")
                XCTAssertEqual(chmod(dir.path(path), 0o400), 0)
            }
            let validate = try runCommand(binary, ["validate", "--config", dir.path("proxy.yaml")])
            XCTAssertEqual(validate.status, 0, "\(name): \(validate.stdoutText)\(validate.stderr)")
            XCTAssertTrue(validate.stdoutText.contains(": ok ("), validate.stdoutText)
            guard proxy["spec"]?["capture"] != nil else { continue }
            let rules = try runCommand(binary, ["capture", "--config", dir.path("proxy.yaml")])
            XCTAssertEqual(rules.status, 0, "\(name): \(rules.stdoutText)\(rules.stderr)")
            XCTAssertTrue(rules.stdoutText.contains("REDIRECT --to-ports 15001"), rules.stdoutText)
            XCTAssertTrue(rules.stdoutText.contains("-p udp -j REDIRECT --to-ports 15053"), rules.stdoutText)
            XCTAssertTrue(rules.stdoutText.contains("--mark 1337 -j RETURN"), rules.stdoutText)
        }
    }
}
