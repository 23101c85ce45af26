import Foundation
import Testing
@testable import CausewayApp

/// A directory of config files written for one test and removed after it.
struct ConfigTree {
    let root: String

    /// Writes `files` (relative path -> contents) under a new temporary directory.
    init(_ files: [String: String]) throws {
        root = (NSTemporaryDirectory() as NSString).appendingPathComponent("causeway-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for (path, contents) in files {
            try write(path, contents)
        }
    }

    func write(_ path: String, _ contents: String) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: URL(fileURLWithPath: full))
    }

    func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + path))
    }

    func mkdir(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/" + path, withIntermediateDirectories: true)
    }

    /// Loads `path` with the tree as working directory, so problems show relative paths.
    func load(_ path: String = "causeway.yaml", defaultWorkers: Int = 2) -> Result<LoadedConfig, ConfigErrors> {
        do {
            return .success(try ConfigLoader.load(path: path, workingDirectory: root, defaultWorkers: defaultWorkers))
        } catch {
            return .failure(error)
        }
    }

    /// The problems of a load that must fail, as `FILE:LINE:COL: FIELD: MESSAGE` lines.
    func problems(_ path: String = "causeway.yaml", sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        switch load(path) {
        case .success:
            Issue.record("expected the config to be rejected", sourceLocation: sourceLocation)
            return []
        case .failure(let errors):
            return errors.problems.map(\.description)
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// Runs `body` with a fresh tree, removing it afterwards.
func withTree<T>(_ files: [String: String], _ body: (ConfigTree) throws -> T) throws -> T {
    let tree = try ConfigTree(files)
    defer { tree.remove() }
    return try body(tree)
}

/// A valid Proxy of ten lines; `extra` continues the listeners list or adds `spec` fields
/// from line 11 on (two-space indent is `spec` level).
///
///     1  apiVersion: causeway.dev/v1alpha1
///     2  kind: Proxy
///     3  metadata:
///     4    name: cluster1-proxy
///     5  spec:
///     6    cluster: cluster1
///     7    listeners:
///     8    - name: outbound
///     9      role: sidecar
///     10     address: "127.0.0.1:15001"
func proxyYAML(_ extra: String = "") -> String {
    """
    apiVersion: causeway.dev/v1alpha1
    kind: Proxy
    metadata:
      name: cluster1-proxy
    spec:
      cluster: cluster1
      listeners:
      - name: outbound
        role: sidecar
        address: "127.0.0.1:15001"

    """ + extra
}

/// A valid EndpointSlice of twelve lines, for resource files.
///
///     1  apiVersion: discovery.k8s.io/v1
///     2  kind: EndpointSlice
///     3  metadata:
///     4    name: webapp-1
///     5    namespace: production
///     6    labels:
///     7      kubernetes.io/service-name: webapp
///     8  addressType: IPv4
///     9  ports:
///     10 - { name: http, port: 8080, protocol: TCP, appProtocol: kubernetes.io/h2c }
///     11 endpoints:
///     12 - addresses: ["10.1.0.5"]
func sliceYAML(_ extra: String = "") -> String {
    """
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      name: webapp-1
      namespace: production
      labels:
        kubernetes.io/service-name: webapp
    addressType: IPv4
    ports:
    - { name: http, port: 8080, protocol: TCP, appProtocol: kubernetes.io/h2c }
    endpoints:
    - addresses: ["10.1.0.5"]

    """ + extra
}

/// One row of a table of invalid configurations.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let files: [String: String]
    /// Every problem expected, in order, exactly.
    let expected: [String]

    init(_ name: String, _ files: [String: String], _ expected: [String]) {
        self.name = name
        self.files = files
        self.expected = expected
    }

    /// A case with only a config file.
    init(_ name: String, config: String, _ expected: [String]) {
        self.init(name, ["causeway.yaml": config], expected)
    }

    var testDescription: String { name }
}

func check(_ errorCase: ErrorCase, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let problems = try withTree(errorCase.files) { $0.problems(sourceLocation: sourceLocation) }
    #expect(problems == errorCase.expected, sourceLocation: sourceLocation)
}

// MARK: Multi-cluster fixtures

/// Stand-ins for the PEM files `spec.tls` names: the loader checks that they exist and can be
/// read, not what they hold (CausewayTLS does that when it loads them).
let certFiles = ["certs/root.pem": "root", "certs/chain.pem": "chain", "certs/key.pem": "key"]

/// `proxyYAML()` with trust domain `mesh.local`, TLS files and `resources: [ mesh/ ]` on lines
/// 11-16; `extra` continues from line 17 (two-space indent is `spec` level).
///
///     11   trustDomain: mesh.local
///     12   tls:
///     13     trustBundle: certs/root.pem
///     14     certificateChain: certs/chain.pem
///     15     privateKey: certs/key.pem
///     16   resources: [ mesh/ ]
func meshProxyYAML(_ extra: String = "") -> String {
    proxyYAML("""
          trustDomain: mesh.local
          tls:
            trustBundle: certs/root.pem
            certificateChain: certs/chain.pem
            privateKey: certs/key.pem
          resources: [ mesh/ ]

        """ + extra)
}

/// `files` plus `causeway.yaml` = `meshProxyYAML()` (unless given) and the cert files.
func meshFiles(_ files: [String: String]) -> [String: String] {
    files.merging(certFiles.merging(["causeway.yaml": meshProxyYAML()]) { a, _ in a }) { a, _ in a }
}

/// A valid Link to cluster2 of eight lines; `extra` adds `spec` fields from line 9.
///
///     1  apiVersion: causeway.dev/v1alpha1
///     2  kind: Link
///     3  metadata:
///     4    name: cluster2
///     5  spec:
///     6    cluster: cluster2
///     7    gateways: [ "10.0.2.10:15443" ]
///     8    identity: spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway
func linkYAML(_ extra: String = "") -> String {
    """
    apiVersion: causeway.dev/v1alpha1
    kind: Link
    metadata:
      name: cluster2
    spec:
      cluster: cluster2
      gateways: [ "10.0.2.10:15443" ]
      identity: spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway

    """ + extra
}

/// A valid slice of `webapp-cluster2`, mirrored from cluster2, of thirteen lines.
///
///     1  apiVersion: discovery.k8s.io/v1
///     2  kind: EndpointSlice
///     3  metadata:
///     4    name: webapp-cluster2-1
///     5    namespace: production
///     6    labels:
///     7      kubernetes.io/service-name: webapp-cluster2
///     8      multicluster.kubernetes.io/source-cluster: cluster2
///     9  addressType: IPv4
///     10 ports:
///     11 - { name: http, port: 15443, appProtocol: http2 }
///     12 endpoints:
///     13 - addresses: ["10.0.2.10"]
func mirrorSliceYAML(_ extra: String = "") -> String {
    """
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      name: webapp-cluster2-1
      namespace: production
      labels:
        kubernetes.io/service-name: webapp-cluster2
        multicluster.kubernetes.io/source-cluster: cluster2
    addressType: IPv4
    ports:
    - { name: http, port: 15443, appProtocol: http2 }
    endpoints:
    - addresses: ["10.0.2.10"]

    """ + extra
}

/// A valid ServiceExport of `webapp.production`, five lines; `extra` from line 6.
///
///     1  apiVersion: multicluster.x-k8s.io/v1alpha1
///     2  kind: ServiceExport
///     3  metadata:
///     4    name: webapp
///     5    namespace: production
func exportYAML(_ extra: String = "") -> String {
    """
    apiVersion: multicluster.x-k8s.io/v1alpha1
    kind: ServiceExport
    metadata:
      name: webapp
      namespace: production

    """ + extra
}

/// `text` with `old` replaced by `new`; `old` must occur (a test that replaces nothing would
/// silently test the base document).
func replacing(_ text: String, _ old: String, _ new: String) -> String {
    precondition(text.contains(old), "test bug: \(old) is not in the base document")
    return text.replacingOccurrences(of: old, with: new)
}
