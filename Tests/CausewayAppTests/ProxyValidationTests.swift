import Testing
@testable import CausewayApp

/// `proxyYAML()` with one line replaced; line numbers stay those documented on `proxyYAML`.
private func proxy(replacing old: String, with new: String, extra: String = "") -> String {
    let base = proxyYAML(extra)
    precondition(base.contains(old), "test bug: \(old) is not in the base config")
    return base.replacingOccurrences(of: old, with: new)
}

private let dnsLabel = "must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
private func withCerts(_ config: String, except missing: String? = nil) -> [String: String] {
    var files = certFiles
    if let missing { files[missing] = nil }
    files["causeway.yaml"] = config
    return files
}

@Suite("Proxy validation: one problem per field")
struct ProxyValidationTests {
    static let metadataCases: [ErrorCase] = [
        ErrorCase("metadata.name missing", config: proxy(replacing: "  name: cluster1-proxy", with: "  labels: { team: mesh }"),
                  ["causeway.yaml:4:3: metadata.name: required field is missing"]),
        ErrorCase("metadata.name not a DNS subdomain", config: proxy(replacing: "  name: cluster1-proxy", with: "  name: Cluster_1"),
                  ["causeway.yaml:4:9: metadata.name: \"Cluster_1\" must be a DNS subdomain: lowercase letters, digits, '-' and '.', at most 253 characters"]),
        ErrorCase("metadata unknown field", config: proxy(replacing: "  name: cluster1-proxy", with: "  nmae: cluster1-proxy"),
                  ["causeway.yaml:4:3: metadata.nmae: unknown field \"nmae\" (did you mean \"name\"?)",
                   "causeway.yaml:4:3: metadata.name: required field is missing"]),
        ErrorCase("metadata.labels values are strings", config: proxy(replacing: "  name: cluster1-proxy", with: "  name: p\n  labels: { canary: yes }"),
                  ["causeway.yaml:5:21: metadata.labels.canary: expected a string, got the boolean yes (quote it to make it a string: \"yes\")"]),
        ErrorCase("spec missing", config: "apiVersion: causeway.dev/v1alpha1\nkind: Proxy\nmetadata:\n  name: p\n",
                  ["causeway.yaml:1:1: spec: required field is missing"]),
        ErrorCase("spec not a mapping", config: "apiVersion: causeway.dev/v1alpha1\nkind: Proxy\nmetadata:\n  name: p\nspec: [1]\n",
                  ["causeway.yaml:5:7: spec: expected a mapping, got a list"]),
        ErrorCase("unknown top-level field", config: proxyYAML("status: {}\n"),
                  ["causeway.yaml:11:1: status: unknown field \"status\"; known fields: apiVersion, kind, metadata, spec"]),
    ]

    static let specCases: [ErrorCase] = [
        ErrorCase("cluster missing", config: proxy(replacing: "  cluster: cluster1", with: "  # no cluster"),
                  ["causeway.yaml:7:3: spec.cluster: required field is missing"]),
        ErrorCase("cluster without value", config: proxy(replacing: "  cluster: cluster1", with: "  cluster: ~"),
                  ["causeway.yaml:6:12: spec.cluster: required field has no value"]),
        ErrorCase("cluster not a DNS label", config: proxy(replacing: "  cluster: cluster1", with: "  cluster: Cluster1"),
                  ["causeway.yaml:6:12: spec.cluster: \"Cluster1\" \(dnsLabel)"]),
        ErrorCase("cluster not a string", config: proxy(replacing: "  cluster: cluster1", with: "  cluster: 1"),
                  ["causeway.yaml:6:12: spec.cluster: expected a string, got the integer 1 (quote it to make it a string: \"1\")"]),
        ErrorCase("unknown spec field with a suggestion", config: proxyYAML("  clustr: x\n"),
                  ["causeway.yaml:11:3: spec.clustr: unknown field \"clustr\" (did you mean \"cluster\"?)"]),
        ErrorCase("mapping key that is not a string", config: proxyYAML("  1: x\n"),
                  ["causeway.yaml:11:3: spec: mapping keys must be strings, got the integer 1"]),
        ErrorCase("trustDomain invalid", config: proxyYAML("  trustDomain: Mesh Local\n"),
                  ["causeway.yaml:11:16: spec.trustDomain: \"Mesh Local\" must be a SPIFFE trust domain: lowercase letters, digits, '.', '-' and '_'"]),
        ErrorCase("trustDomain uppercase", config: proxyYAML("  trustDomain: Mesh.Local\n"),
                  ["causeway.yaml:11:16: spec.trustDomain: \"Mesh.Local\" must be a SPIFFE trust domain: lowercase letters, digits, '.', '-' and '_'"]),
        ErrorCase("trustDomain with a port", config: proxyYAML("  trustDomain: \"mesh.local:8443\"\n"),
                  ["causeway.yaml:11:16: spec.trustDomain: \"mesh.local:8443\" must be a SPIFFE trust domain: lowercase letters, digits, '.', '-' and '_'"]),
        ErrorCase("trustDomain as a SPIFFE URI", config: proxyYAML("  trustDomain: spiffe://mesh.local\n"),
                  ["causeway.yaml:11:16: spec.trustDomain: \"spiffe://mesh.local\" must be a SPIFFE trust domain: lowercase letters, digits, '.', '-' and '_'"]),
        ErrorCase("namespace invalid", config: proxyYAML("  namespace: Prod\n"),
                  ["causeway.yaml:11:14: spec.namespace: \"Prod\" \(dnsLabel)"]),
        ErrorCase("workers zero", config: proxyYAML("  workers: 0\n"),
                  ["causeway.yaml:11:12: spec.workers: 0 is out of range: must be between 1 and 256"]),
        ErrorCase("workers too many", config: proxyYAML("  workers: 300\n"),
                  ["causeway.yaml:11:12: spec.workers: 300 is out of range: must be between 1 and 256"]),
        ErrorCase("workers not a number", config: proxyYAML("  workers: two\n"),
                  ["causeway.yaml:11:12: spec.workers: expected an integer, got the string \"two\""]),
        ErrorCase("workers quoted", config: proxyYAML("  workers: \"2\"\n"),
                  ["causeway.yaml:11:12: spec.workers: expected an integer, got the string \"2\""]),
        ErrorCase("workers fractional", config: proxyYAML("  workers: 1.5\n"),
                  ["causeway.yaml:11:12: spec.workers: expected a decimal integer, got 1.5"]),
        ErrorCase("watch not a boolean", config: proxyYAML("  watch: sometimes\n"),
                  ["causeway.yaml:11:10: spec.watch: expected true or false, got the string \"sometimes\""]),
        ErrorCase("watch quoted", config: proxyYAML("  watch: \"false\"\n"),
                  ["causeway.yaml:11:10: spec.watch: expected true or false, got the string \"false\""]),
    ]

    static let tlsCases: [ErrorCase] = [
        ErrorCase("tls privateKey missing",
                  withCerts(proxyYAML("  tls:\n    trustBundle: certs/root.pem\n    certificateChain: certs/chain.pem\n")),
                  ["causeway.yaml:12:5: spec.tls.privateKey: required field is missing"]),
        ErrorCase("tls file does not exist",
                  withCerts(proxyYAML("  tls:\n    trustBundle: certs/root.pem\n    certificateChain: certs/chain.pem\n    privateKey: certs/key.pem\n"),
                            except: "certs/key.pem"),
                  ["causeway.yaml:14:17: spec.tls.privateKey: file certs/key.pem does not exist"]),
        ErrorCase("tls path is a directory",
                  withCerts(proxyYAML("  tls:\n    trustBundle: certs/root.pem\n    certificateChain: certs/chain.pem\n    privateKey: certs\n")),
                  ["causeway.yaml:14:17: spec.tls.privateKey: certs is a directory, not a PEM file"]),
        ErrorCase("tls unknown field",
                  withCerts(proxyYAML("  tls:\n    trustBundle: certs/root.pem\n    certificateChain: certs/chain.pem\n    privateKey: certs/key.pem\n    ca: x\n")),
                  ["causeway.yaml:15:5: spec.tls.ca: unknown field \"ca\"; known fields: trustBundle, certificateChain, privateKey, rotationGracePeriod"]),
        ErrorCase("tls rotationGracePeriod too long",
                  withCerts(proxyYAML("  tls:\n    trustBundle: certs/root.pem\n    certificateChain: certs/chain.pem\n    privateKey: certs/key.pem\n    rotationGracePeriod: 2h\n")),
                  ["causeway.yaml:15:26: spec.tls.rotationGracePeriod: 2h is out of range: must be 0s (none) or between 1s and 1h"]),
        ErrorCase("tls rotationGracePeriod below a second",
                  withCerts(proxyYAML("  tls:\n    trustBundle: certs/root.pem\n    certificateChain: certs/chain.pem\n    privateKey: certs/key.pem\n    rotationGracePeriod: 500ms\n")),
                  ["causeway.yaml:15:26: spec.tls.rotationGracePeriod: 500ms is out of range: must be 0s (none) or between 1s and 1h"]),
        ErrorCase("tls rotationGracePeriod not a duration",
                  withCerts(proxyYAML("  tls:\n    trustBundle: certs/root.pem\n    certificateChain: certs/chain.pem\n    privateKey: certs/key.pem\n    rotationGracePeriod: 30\n")),
                  ["causeway.yaml:15:26: spec.tls.rotationGracePeriod: expected a duration such as 250ms, 1s, 2m or 1h, got the integer 30"]),
    ]

    static let listenerCases: [ErrorCase] = [
        ErrorCase("listeners missing", config: "apiVersion: causeway.dev/v1alpha1\nkind: Proxy\nmetadata:\n  name: p\nspec:\n  cluster: c\n",
                  ["causeway.yaml:6:3: spec.listeners: required field is missing"]),
        ErrorCase("listeners empty", config: "apiVersion: causeway.dev/v1alpha1\nkind: Proxy\nmetadata:\n  name: p\nspec:\n  cluster: c\n  listeners: []\n",
                  ["causeway.yaml:7:14: spec.listeners: at least one listener is required"]),
        ErrorCase("listeners not a list", config: "apiVersion: causeway.dev/v1alpha1\nkind: Proxy\nmetadata:\n  name: p\nspec:\n  cluster: c\n  listeners: { name: x }\n",
                  ["causeway.yaml:7:14: spec.listeners: expected a list, got a mapping"]),
        ErrorCase("listener role missing", config: proxy(replacing: "    role: sidecar", with: "    # no role"),
                  ["causeway.yaml:8:5: spec.listeners[0].role: required field is missing"]),
        ErrorCase("gateway listener without spec.tls", config: proxy(replacing: "    role: sidecar", with: "    role: gateway"),
                  ["causeway.yaml:9:11: spec.listeners[0].role: a gateway listener accepts only mTLS from other clusters, so spec.tls is required"]),
        ErrorCase("second listener a gateway without spec.tls",
                  config: proxyYAML("  - { name: east-west, role: gateway, address: \"0.0.0.0:15443\" }\n"),
                  ["causeway.yaml:11:30: spec.listeners[1].role: a gateway listener accepts only mTLS from other clusters, so spec.tls is required"]),
        ErrorCase("gateway listener with a broken spec.tls reports only the TLS problem",
                  withCerts(proxy(replacing: "    role: sidecar", with: "    role: gateway",
                                  extra: "  tls:\n    trustBundle: certs/root.pem\n    certificateChain: certs/chain.pem\n    privateKey: certs/key.pem\n"),
                            except: "certs/key.pem"),
                  ["causeway.yaml:14:17: spec.tls.privateKey: file certs/key.pem does not exist"]),
        ErrorCase("listener role unknown", config: proxy(replacing: "    role: sidecar", with: "    role: ingress"),
                  ["causeway.yaml:9:11: spec.listeners[0].role: unknown role \"ingress\"; expected sidecar or gateway"]),
        ErrorCase("listener name invalid", config: proxy(replacing: "  - name: outbound", with: "  - name: Out_Bound"),
                  ["causeway.yaml:8:11: spec.listeners[0].name: \"Out_Bound\" \(dnsLabel)"]),
        ErrorCase("listener unknown field", config: proxyYAML("    port: 1\n"),
                  ["causeway.yaml:11:5: spec.listeners[0].port: unknown field \"port\"; known fields: name, role, address, accessLog"]),
        ErrorCase("address without port", config: proxy(replacing: "\"127.0.0.1:15001\"", with: "\"127.0.0.1\""),
                  ["causeway.yaml:10:14: spec.listeners[0].address: \"127.0.0.1\" needs a port, e.g. \"127.0.0.1:15001\""]),
        ErrorCase("address with a host name", config: proxy(replacing: "\"127.0.0.1:15001\"", with: "\"localhost:15001\""),
                  ["causeway.yaml:10:14: spec.listeners[0].address: host \"localhost\" in \"localhost:15001\" must be an IP address such as 127.0.0.1, not a name"]),
        ErrorCase("address port out of range", config: proxy(replacing: "\"127.0.0.1:15001\"", with: "\"127.0.0.1:70000\""),
                  ["causeway.yaml:10:14: spec.listeners[0].address: port \"70000\" in \"127.0.0.1:70000\" must be a number from 0 to 65535"]),
        ErrorCase("address IPv6 without brackets", config: proxy(replacing: "\"127.0.0.1:15001\"", with: "\"::1:15001\""),
                  ["causeway.yaml:10:14: spec.listeners[0].address: IPv6 addresses need brackets, e.g. \"[::1]:15001\"; got \"::1:15001\""]),
        ErrorCase("address IPv4 in brackets", config: proxy(replacing: "\"127.0.0.1:15001\"", with: "\"[127.0.0.1]:15001\""),
                  ["causeway.yaml:10:14: spec.listeners[0].address: \"127.0.0.1\" in \"[127.0.0.1]:15001\" is not an IPv6 address"]),
        ErrorCase("duplicate listener name and address",
                  config: proxyYAML("  - name: outbound\n    role: sidecar\n    address: \"127.0.0.1:15001\"\n"),
                  ["causeway.yaml:11:11: spec.listeners[1].name: listener name \"outbound\" is already used by spec.listeners[0]",
                   "causeway.yaml:13:14: spec.listeners[1].address: address 127.0.0.1:15001 is already used by spec.listeners[0]"]),
        ErrorCase("listener overlapping a wildcard address",
                  config: proxyYAML("  - name: inbound\n    role: sidecar\n    address: \"0.0.0.0:15001\"\n"),
                  ["causeway.yaml:13:14: spec.listeners[1].address: address 0.0.0.0:15001 overlaps 127.0.0.1:15001 of spec.listeners[0]"]),
        ErrorCase("admin on a listener's address", config: proxyYAML("  admin: { address: \"127.0.0.1:15001\" }\n"),
                  ["causeway.yaml:11:21: spec.admin.address: address 127.0.0.1:15001 is already used by spec.listeners[0]"]),
        ErrorCase("admin unknown field", config: proxyYAML("  admin: { port: 15000 }\n"),
                  ["causeway.yaml:11:12: spec.admin.port: unknown field \"port\"; known fields: address"]),
        ErrorCase("admin address with a host name", config: proxyYAML("  admin: { address: \"localhost:15000\" }\n"),
                  ["causeway.yaml:11:21: spec.admin.address: host \"localhost\" in \"localhost:15000\" must be an IP address such as 127.0.0.1, not a name"]),
    ]

    static let http2Cases: [ErrorCase] = [
        ErrorCase("maxConcurrentStreams zero", config: proxyYAML("  http2:\n    maxConcurrentStreams: 0\n"),
                  ["causeway.yaml:12:27: spec.http2.maxConcurrentStreams: 0 is out of range: must be between 1 and 4294967295"]),
        ErrorCase("maxConcurrentStreams above 32 bits", config: proxyYAML("  http2:\n    maxConcurrentStreams: 4294967296\n"),
                  ["causeway.yaml:12:27: spec.http2.maxConcurrentStreams: 4294967296 is out of range: must be between 1 and 4294967295"]),
        ErrorCase("maxConcurrentStreams octal-looking", config: proxyYAML("  http2:\n    maxConcurrentStreams: 0100\n"),
                  ["causeway.yaml:12:27: spec.http2.maxConcurrentStreams: 0100 has a leading zero, which YAML may read as octal; write it without"]),
        ErrorCase("maxConcurrentStreams hex", config: proxyYAML("  http2:\n    maxConcurrentStreams: 0x100\n"),
                  ["causeway.yaml:12:27: spec.http2.maxConcurrentStreams: expected a decimal integer, got 0x100"]),
        ErrorCase("initialStreamWindow below 65535", config: proxyYAML("  http2:\n    initialStreamWindow: 65534\n"),
                  ["causeway.yaml:12:26: spec.http2.initialStreamWindow: 65534 is out of range: must be between 65535 and 2147483647"]),
        ErrorCase("initialStreamWindow above 2^31-1", config: proxyYAML("  http2:\n    initialStreamWindow: 2147483648\n"),
                  ["causeway.yaml:12:26: spec.http2.initialStreamWindow: 2147483648 is out of range: must be between 65535 and 2147483647"]),
        ErrorCase("connectionWindow below 65535", config: proxyYAML("  http2:\n    connectionWindow: 1024\n"),
                  ["causeway.yaml:12:23: spec.http2.connectionWindow: 1024 is out of range: must be between 65535 and 2147483647"]),
        ErrorCase("maxHeaderListSize too small", config: proxyYAML("  http2:\n    maxHeaderListSize: 100\n"),
                  ["causeway.yaml:12:24: spec.http2.maxHeaderListSize: 100 is out of range: must be between 1024 and 16777216"]),
        ErrorCase("http2 unknown field", config: proxyYAML("  http2:\n    initialStreamWindw: 65535\n"),
                  ["causeway.yaml:12:5: spec.http2.initialStreamWindw: unknown field \"initialStreamWindw\" (did you mean \"initialStreamWindow\"?)"]),
    ]

    static let upstreamCases: [ErrorCase] = [
        ErrorCase("connectTimeout not a duration", config: proxyYAML("  upstream:\n    connectTimeout: fast\n"),
                  ["causeway.yaml:12:21: spec.upstream.connectTimeout: \"fast\" is not a duration such as 250ms, 1s, 2m or 1h"]),
        ErrorCase("connectTimeout zero", config: proxyYAML("  upstream:\n    connectTimeout: 0ms\n"),
                  ["causeway.yaml:12:21: spec.upstream.connectTimeout: 0ms is out of range: must be between 1ms and 1m"]),
        ErrorCase("connectTimeout too long", config: proxyYAML("  upstream:\n    connectTimeout: 2m\n"),
                  ["causeway.yaml:12:21: spec.upstream.connectTimeout: 2m is out of range: must be between 1ms and 1m"]),
        ErrorCase("connectTimeout without unit", config: proxyYAML("  upstream:\n    connectTimeout: 5\n"),
                  ["causeway.yaml:12:21: spec.upstream.connectTimeout: expected a duration such as 250ms, 1s, 2m or 1h, got the integer 5"]),
        ErrorCase("idleTimeout too short", config: proxyYAML("  upstream:\n    idleTimeout: 500ms\n"),
                  ["causeway.yaml:12:18: spec.upstream.idleTimeout: 500ms is out of range: must be between 1s and 24h"]),
        ErrorCase("maxConnectionsPerEndpoint zero", config: proxyYAML("  upstream:\n    maxConnectionsPerEndpoint: 0\n"),
                  ["causeway.yaml:12:32: spec.upstream.maxConnectionsPerEndpoint: 0 is out of range: must be between 1 and 10000"]),
        ErrorCase("upstream unknown field", config: proxyYAML("  upstream:\n    retries: 3\n"),
                  ["causeway.yaml:12:5: spec.upstream.retries: unknown field \"retries\"; known fields: connectTimeout, idleTimeout, maxConnectionsPerEndpoint"]),
    ]

    static let resourceCases: [ErrorCase] = [
        ErrorCase("resources not a list", config: proxyYAML("  resources: mesh/\n"),
                  ["causeway.yaml:11:14: spec.resources: expected a list, got the string \"mesh/\""]),
        ErrorCase("resources entry not a string", config: proxyYAML("  resources: [ 5 ]\n"),
                  ["causeway.yaml:11:16: spec.resources[0]: expected a string, got the integer 5 (quote it to make it a string: \"5\")"]),
        ErrorCase("resources file missing", config: proxyYAML("  resources: [ mesh/missing.yaml ]\n"),
                  ["causeway.yaml:11:16: spec.resources[0]: mesh/missing.yaml: no such file or directory"]),
        ErrorCase("resources folder missing", config: proxyYAML("  resources: [ mesh/, other/ ]\n"),
                  ["causeway.yaml:11:16: spec.resources[0]: mesh: no such file or directory",
                   "causeway.yaml:11:23: spec.resources[1]: other: no such file or directory"]),
    ]

    @Test("metadata and document shape", arguments: metadataCases)
    func metadata(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("spec scalars", arguments: specCases)
    func spec(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("spec.tls", arguments: tlsCases)
    func tls(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("spec.listeners and spec.admin", arguments: listenerCases)
    func listeners(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("spec.http2", arguments: http2Cases)
    func http2(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("spec.upstream", arguments: upstreamCases)
    func upstream(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("spec.resources", arguments: resourceCases)
    func resources(_ errorCase: ErrorCase) throws { try check(errorCase) }
}
