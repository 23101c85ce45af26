import Testing
@testable import CausewayApp

/// A config whose Proxy reads `mesh/`, plus `mesh/webapp.yaml` = `sliceYAML()` with one line
/// replaced (line numbers as documented on `sliceYAML`).
private func slice(replacing old: String, with new: String) -> [String: String] {
    let base = sliceYAML()
    precondition(base.contains(old), "test bug: \(old) is not in the base slice")
    return slices(["mesh/webapp.yaml": base.replacingOccurrences(of: old, with: new)])
}

/// `sliceYAML(extra)` in `mesh/webapp.yaml`; `extra` starts at line 13.
private func slice(extra: String) -> [String: String] {
    slices(["mesh/webapp.yaml": sliceYAML(extra)])
}

private func slices(_ files: [String: String]) -> [String: String] {
    files.merging(["causeway.yaml": proxyYAML("  resources: [ mesh/ ]\n")]) { a, _ in a }
}

private let portLine = "- { name: http, port: 8080, protocol: TCP, appProtocol: kubernetes.io/h2c }"
private let serviceLabel = "    kubernetes.io/service-name: webapp"

@Suite("EndpointSlice validation: one problem per field")
struct EndpointSliceValidationTests {
    static let cases: [ErrorCase] = [
        ErrorCase("addressType FQDN", slice(replacing: "addressType: IPv4", with: "addressType: FQDN"),
                  ["mesh/webapp.yaml:8:14: addressType: addressType FQDN is not supported; use IPv4 or IPv6"]),
        ErrorCase("addressType unknown", slice(replacing: "addressType: IPv4", with: "addressType: IPv5"),
                  ["mesh/webapp.yaml:8:14: addressType: unknown addressType \"IPv5\"; expected IPv4 or IPv6"]),
        ErrorCase("addressType missing", slice(replacing: "addressType: IPv4", with: "# no addressType"),
                  ["mesh/webapp.yaml:1:1: addressType: required field is missing"]),
        ErrorCase("address not an IP", slice(replacing: "[\"10.1.0.5\"]", with: "[\"10.1.0.x\"]"),
                  ["mesh/webapp.yaml:12:15: endpoints[0].addresses[0]: \"10.1.0.x\" is not an IP address"]),
        ErrorCase("third address not an IP", slice(replacing: "[\"10.1.0.5\"]", with: "[\"10.1.0.5\", \"10.1.0.6\", \"web\"]"),
                  ["mesh/webapp.yaml:12:39: endpoints[0].addresses[2]: \"web\" is not an IP address"]),
        ErrorCase("IPv6 address in an IPv4 slice", slice(replacing: "[\"10.1.0.5\"]", with: "[\"::1\"]"),
                  ["mesh/webapp.yaml:12:15: endpoints[0].addresses[0]: \"::1\" is not an IPv4 address (addressType is IPv4)"]),
        ErrorCase("addresses empty", slice(replacing: "[\"10.1.0.5\"]", with: "[]"),
                  ["mesh/webapp.yaml:12:14: endpoints[0].addresses: an endpoint needs 1 to 100 addresses, got 0"]),
        ErrorCase("addresses missing", slice(replacing: "- addresses: [\"10.1.0.5\"]", with: "- zone: a"),
                  ["mesh/webapp.yaml:12:3: endpoints[0].addresses: required field is missing"]),
        ErrorCase("endpoints not a list", slice(replacing: "- addresses: [\"10.1.0.5\"]", with: "  addresses: [\"10.1.0.5\"]"),
                  ["mesh/webapp.yaml:12:3: endpoints: expected a list, got a mapping"]),
        ErrorCase("ready not a boolean", slice(extra: "  conditions: { ready: maybe }\n"),
                  ["mesh/webapp.yaml:13:24: endpoints[0].conditions.ready: expected true or false, got the string \"maybe\""]),
        ErrorCase("unknown condition", slice(extra: "  conditions: { healthy: true }\n"),
                  ["mesh/webapp.yaml:13:17: endpoints[0].conditions.healthy: unknown field \"healthy\"; known fields: ready, serving, terminating"]),
        ErrorCase("unknown endpoint field", slice(extra: "  weight: 3\n"),
                  ["mesh/webapp.yaml:13:3: endpoints[0].weight: unknown field \"weight\"; known fields: addresses, conditions, hostname, nodeName, zone, targetRef, hints"]),
        ErrorCase("targetRef field not a string", slice(extra: "  targetRef: { kind: Pod, name: [a] }\n"),
                  ["mesh/webapp.yaml:13:33: endpoints[0].targetRef.name: expected a string, got a list"]),
        ErrorCase("service-name label missing", slice(replacing: serviceLabel, with: "    app: webapp"),
                  ["mesh/webapp.yaml:7:5: metadata.labels[\"kubernetes.io/service-name\"]: required label is missing: it names the Service this slice belongs to"]),
        ErrorCase("service-name label invalid", slice(replacing: serviceLabel, with: "    kubernetes.io/service-name: Web_App"),
                  ["mesh/webapp.yaml:7:33: metadata.labels[\"kubernetes.io/service-name\"]: \"Web_App\" must be a DNS label starting with a letter: at most 63 lowercase letters, digits and '-'"]),
        ErrorCase("source-cluster label invalid",
                  slice(replacing: serviceLabel, with: serviceLabel + "\n    multicluster.kubernetes.io/source-cluster: Cluster 2"),
                  ["mesh/webapp.yaml:8:48: metadata.labels[\"multicluster.kubernetes.io/source-cluster\"]: \"Cluster 2\" must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"]),
        ErrorCase("metadata.name missing", slice(replacing: "  name: webapp-1", with: "  # no name"),
                  ["mesh/webapp.yaml:5:3: metadata.name: required field is missing"]),
        ErrorCase("namespace invalid", slice(replacing: "  namespace: production", with: "  namespace: Production"),
                  ["mesh/webapp.yaml:5:14: metadata.namespace: \"Production\" must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"]),
        ErrorCase("metadata unknown field", slice(replacing: "  namespace: production", with: "  namespaces: production"),
                  ["mesh/webapp.yaml:5:3: metadata.namespaces: unknown field \"namespaces\" (did you mean \"namespace\"?)"]),
        ErrorCase("port zero", slice(replacing: portLine, with: "- { name: http, port: 0, protocol: TCP, appProtocol: kubernetes.io/h2c }"),
                  ["mesh/webapp.yaml:10:23: ports[0].port: 0 is out of range: must be between 1 and 65535"]),
        ErrorCase("port too large", slice(replacing: portLine, with: "- { name: http, port: 70000 }"),
                  ["mesh/webapp.yaml:10:23: ports[0].port: 70000 is out of range: must be between 1 and 65535"]),
        ErrorCase("port missing", slice(replacing: portLine, with: "- { name: http, protocol: TCP }"),
                  ["mesh/webapp.yaml:10:3: ports[0].port: required field is missing"]),
        ErrorCase("protocol unknown", slice(replacing: portLine, with: "- { name: http, port: 8080, protocol: QUIC }"),
                  ["mesh/webapp.yaml:10:39: ports[0].protocol: unknown protocol \"QUIC\"; expected TCP, UDP or SCTP"]),
        ErrorCase("ports unknown field", slice(replacing: portLine, with: "- { name: http, port: 8080, targetPort: 80 }"),
                  ["mesh/webapp.yaml:10:29: ports[0].targetPort: unknown field \"targetPort\"; known fields: name, port, protocol, appProtocol"]),
        ErrorCase("endpoints but no ports", slice(replacing: "ports:\n" + portLine, with: "# no\n# ports"),
                  ["mesh/webapp.yaml:1:1: ports: a slice with endpoints needs a TCP port to send traffic to"]),
        ErrorCase("endpoints but only a UDP port", slice(replacing: portLine, with: "- { name: dns, port: 53, protocol: UDP }"),
                  ["mesh/webapp.yaml:10:1: ports: a slice with endpoints needs a TCP port to send traffic to"]),
        ErrorCase("unknown top-level field", slice(extra: "spec: {}\n"),
                  ["mesh/webapp.yaml:13:1: spec: unknown field \"spec\"; known fields: apiVersion, kind, metadata, addressType, ports, endpoints"]),
        ErrorCase("duplicate slice name",
                  slices(["mesh/a.yaml": sliceYAML(), "mesh/b.yaml": sliceYAML().replacingOccurrences(of: "10.1.0.5", with: "10.1.0.6")]),
                  ["mesh/b.yaml:4:9: metadata.name: EndpointSlice production/webapp-1 is defined twice; the first is at mesh/a.yaml:4:9"]),
    ]

    @Test("each invalid field is reported where it is", arguments: cases)
    func invalid(_ errorCase: ErrorCase) throws { try check(errorCase) }
}
