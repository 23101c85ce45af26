import Testing
@testable import CausewayApp

// Line numbers in these cases are those documented on `linkYAML`, `mirrorSliceYAML`,
// `exportYAML`, `sliceYAML` and `meshProxyYAML`.

/// `mesh/link.yaml` = `linkYAML()` with one line replaced, beside a Proxy with TLS.
private func link(_ old: String, _ new: String) -> [String: String] {
    meshFiles(["mesh/link.yaml": replacing(linkYAML(), old, new)])
}

/// `mesh/link.yaml` = `linkYAML(extra)`; `extra` starts at line 9.
private func link(extra: String) -> [String: String] {
    meshFiles(["mesh/link.yaml": linkYAML(extra)])
}

/// `mesh/export.yaml` = `exportYAML()` with one line replaced.
private func export(_ old: String, _ new: String) -> [String: String] {
    meshFiles(["mesh/export.yaml": replacing(exportYAML(), old, new)])
}

/// `mesh/mirror.yaml` = `mirrorSliceYAML()` with one line replaced, plus the Link to cluster2.
private func mirror(_ old: String, _ new: String) -> [String: String] {
    meshFiles(["mesh/link.yaml": linkYAML(), "mesh/mirror.yaml": replacing(mirrorSliceYAML(), old, new)])
}

private let dnsLabel = "must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
private let serviceName = "must be a DNS label starting with a letter: at most 63 lowercase letters, digits and '-'"
private let clusterLine = "  cluster: cluster2"
private let gatewaysLine = "  gateways: [ \"10.0.2.10:15443\" ]"
private let identityLine = "  identity: spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway"
private let mirrorServiceLine = "    kubernetes.io/service-name: webapp-cluster2"
private let mirrorSourceLine = "    multicluster.kubernetes.io/source-cluster: cluster2"
private let sourceLabel = "metadata.labels[\"multicluster.kubernetes.io/source-cluster\"]"
private let serviceLabel = "metadata.labels[\"kubernetes.io/service-name\"]"
private let identityAnnotation = "metadata.annotations[\"causeway.dev/gateway-identity\"]"

/// `mirrorSourceLine` followed by a `causeway.dev/gateway-identity` annotation on line 10,
/// whose value starts at column 36.
private func annotated(_ identity: String) -> String {
    mirrorSourceLine + "\n  annotations:\n    causeway.dev/gateway-identity: \(identity)"
}

@Suite("Link, ServiceExport and mirrored slice validation")
struct MultiClusterValidationTests {
    static let linkCases: [ErrorCase] = [
        ErrorCase("cluster missing", link(clusterLine + "\n", ""),
                  ["mesh/link.yaml:6:3: spec.cluster: required field is missing"]),
        ErrorCase("cluster not a DNS label", link(clusterLine, "  cluster: Cluster2"),
                  ["mesh/link.yaml:6:12: spec.cluster: \"Cluster2\" \(dnsLabel)"]),
        ErrorCase("cluster is the proxy's own", link(clusterLine, "  cluster: cluster1"),
                  ["mesh/link.yaml:6:12: spec.cluster: \"cluster1\" is this proxy's own cluster (spec.cluster of the Proxy); a Link names another cluster"]),
        ErrorCase("two Links to one cluster",
                  meshFiles(["mesh/a.yaml": linkYAML(), "mesh/b.yaml": replacing(linkYAML(), "  name: cluster2", "  name: cluster2-backup")]),
                  ["mesh/b.yaml:6:12: spec.cluster: cluster cluster2 already has a Link, cluster2 at mesh/a.yaml:4:9; list all its gateways in that one"]),
        ErrorCase("gateways empty", link(gatewaysLine, "  gateways: []"),
                  ["mesh/link.yaml:7:13: spec.gateways: at least one gateway address is required, e.g. \"10.0.2.10:15443\""]),
        ErrorCase("gateways not a list", link(gatewaysLine, "  gateways: \"10.0.2.10:15443\""),
                  ["mesh/link.yaml:7:13: spec.gateways: expected a list, got the string \"10.0.2.10:15443\""]),
        ErrorCase("gateways missing", link(gatewaysLine + "\n", ""),
                  ["mesh/link.yaml:6:3: spec.gateways: required field is missing"]),
        ErrorCase("gateway given by host name", link(gatewaysLine, "  gateways: [ \"gw.cluster2:15443\" ]"),
                  ["mesh/link.yaml:7:15: spec.gateways[0]: host \"gw.cluster2\" in \"gw.cluster2:15443\" must be an IP address such as 127.0.0.1, not a name"]),
        ErrorCase("gateway without port", link(gatewaysLine, "  gateways: [ \"10.0.2.10\" ]"),
                  ["mesh/link.yaml:7:15: spec.gateways[0]: \"10.0.2.10\" needs a port, e.g. \"10.0.2.10:15001\""]),
        ErrorCase("gateway port 0", link(gatewaysLine, "  gateways: [ \"10.0.2.10:0\" ]"),
                  ["mesh/link.yaml:7:15: spec.gateways[0]: port 0 cannot be connected to; give the port the remote gateway listens on, e.g. 15443"]),
        ErrorCase("gateway wildcard", link(gatewaysLine, "  gateways: [ \"0.0.0.0:15443\" ]"),
                  ["mesh/link.yaml:7:15: spec.gateways[0]: 0.0.0.0 is a wildcard address; give an address of the remote gateway"]),
        ErrorCase("gateway listed twice in two spellings",
                  link(gatewaysLine, "  gateways: [ \"[2001:db8::a]:15443\", \"[2001:DB8:0::A]:15443\" ]"),
                  ["mesh/link.yaml:7:38: spec.gateways[1]: address [2001:db8::a]:15443 is already listed at spec.gateways[0]"]),
        ErrorCase("identity missing", link(identityLine + "\n", ""),
                  ["mesh/link.yaml:6:3: spec.identity: required field is missing"]),
        ErrorCase("identity not a SPIFFE URI", link(identityLine, "  identity: https://mesh.local/gw"),
                  ["mesh/link.yaml:8:13: spec.identity: \"https://mesh.local/gw\" is not a SPIFFE ID: a SPIFFE ID starts with spiffe:// (lowercase)"]),
        ErrorCase("identity with a port", link(identityLine, "  identity: spiffe://mesh.local:8443/gw"),
                  ["mesh/link.yaml:8:13: spec.identity: \"spiffe://mesh.local:8443/gw\" is not a SPIFFE ID: trust domain may only hold lowercase letters, digits, '.', '-' and '_' (found ':'; no port, user info, query or fragment)"]),
        ErrorCase("identity with a query", link(identityLine, "  identity: spiffe://mesh.local/gw?x=1"),
                  ["mesh/link.yaml:8:13: spec.identity: \"spiffe://mesh.local/gw?x=1\" is not a SPIFFE ID: path may only hold letters, digits, '.', '-', '_' and '/' (found '?'; no query or fragment)"]),
        ErrorCase("identity without a path", link(identityLine, "  identity: spiffe://mesh.local"),
                  ["mesh/link.yaml:8:13: spec.identity: \"spiffe://mesh.local\" is not a SPIFFE ID: missing path: a workload ID looks like spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>"]),
        ErrorCase("identity with an uppercase trust domain", link(identityLine, "  identity: spiffe://Mesh.Local/gw"),
                  ["mesh/link.yaml:8:13: spec.identity: \"spiffe://Mesh.Local/gw\" is not a SPIFFE ID: trust domain may only hold lowercase letters, digits, '.', '-' and '_' (found 'M'; no port, user info, query or fragment)"]),
        ErrorCase("identity in another trust domain", link(identityLine, "  identity: spiffe://other.local/ns/mesh-system/sa/cluster2-gateway"),
                  ["mesh/link.yaml:8:13: spec.identity: \"spiffe://other.local/ns/mesh-system/sa/cluster2-gateway\" is in trust domain \"other.local\", not this proxy's \"mesh.local\" (spec.trustDomain of the Proxy)"]),
        ErrorCase("identity outside the default trust domain",
                  meshFiles(["causeway.yaml": replacing(meshProxyYAML(), "  trustDomain: mesh.local\n", ""), "mesh/link.yaml": linkYAML()]),
                  ["mesh/link.yaml:8:13: spec.identity: \"spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway\" is in trust domain \"mesh.local\", not this proxy's \"cluster.local\" (the default, as the Proxy sets no spec.trustDomain)"]),
        ErrorCase("probe period too short", link(extra: "  probe: { period: 50ms }\n"),
                  ["mesh/link.yaml:9:20: spec.probe.period: 50ms is out of range: must be between 100ms and 1h"]),
        ErrorCase("probe timeout longer than the period", link(extra: "  probe: { period: 1s, timeout: 2s }\n"),
                  ["mesh/link.yaml:9:33: spec.probe.timeout: 2s is longer than the probe period 1s; a probe must time out before the next is due"]),
        ErrorCase("probe timeout longer than the default period", link(extra: "  probe: { timeout: 5s }\n"),
                  ["mesh/link.yaml:9:21: spec.probe.timeout: 5s is longer than the probe period 3s; a probe must time out before the next is due"]),
        ErrorCase("probe failureThreshold zero", link(extra: "  probe: { failureThreshold: 0 }\n"),
                  ["mesh/link.yaml:9:30: spec.probe.failureThreshold: 0 is out of range: must be between 1 and 100"]),
        ErrorCase("probe unknown field", link(extra: "  probe: { interval: 3s }\n"),
                  ["mesh/link.yaml:9:12: spec.probe.interval: unknown field \"interval\"; known fields: period, failureThreshold, timeout"]),
        ErrorCase("spec unknown field", link(extra: "  gateway: \"10.0.2.11:15443\"\n"),
                  ["mesh/link.yaml:9:3: spec.gateway: unknown field \"gateway\" (did you mean \"gateways\"?)"]),
        ErrorCase("status is not accepted", link(extra: "status: {}\n"),
                  ["mesh/link.yaml:9:1: status: unknown field \"status\"; known fields: apiVersion, kind, metadata, spec"]),
        ErrorCase("metadata.name missing", link("  name: cluster2", "  labels: { team: mesh }"),
                  ["mesh/link.yaml:4:3: metadata.name: required field is missing"]),
        ErrorCase("spec missing", meshFiles(["mesh/link.yaml": "apiVersion: causeway.dev/v1alpha1\nkind: Link\nmetadata: { name: x }\n"]),
                  ["mesh/link.yaml:1:1: spec: required field is missing"]),
        ErrorCase("wrong apiVersion", link("apiVersion: causeway.dev/v1alpha1", "apiVersion: causeway.dev/v1"),
                  ["mesh/link.yaml:1:13: apiVersion: apiVersion causeway.dev/v1 is not served for kind Link; expected causeway.dev/v1alpha1"]),
        ErrorCase("a Link needs the Proxy's spec.tls",
                  ["causeway.yaml": proxyYAML("  trustDomain: mesh.local\n  resources: [ mesh/ ]\n"), "mesh/link.yaml": linkYAML()],
                  ["causeway.yaml:6:3: spec.tls: required field is missing: Link cluster2 at mesh/link.yaml:4:9 connects to its gateways over mTLS"]),
    ]

    static let exportCases: [ErrorCase] = [
        ErrorCase("name not a Service name", export("  name: webapp", "  name: Web_App"),
                  ["mesh/export.yaml:4:9: metadata.name: \"Web_App\" \(serviceName)"]),
        ErrorCase("name starting with a digit", export("  name: webapp", "  name: 1webapp"),
                  ["mesh/export.yaml:4:9: metadata.name: \"1webapp\" \(serviceName)"]),
        ErrorCase("namespace invalid", export("  namespace: production", "  namespace: Production"),
                  ["mesh/export.yaml:5:14: metadata.namespace: \"Production\" \(dnsLabel)"]),
        ErrorCase("metadata missing", meshFiles(["mesh/export.yaml": "apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\n"]),
                  ["mesh/export.yaml:1:1: metadata: required field is missing"]),
        ErrorCase("spec with a field", meshFiles(["mesh/export.yaml": exportYAML("spec: { ports: [ 80 ] }\n")]),
                  ["mesh/export.yaml:6:9: spec.ports: unknown field \"ports\"; this mapping takes no fields"]),
        ErrorCase("spec not a mapping", meshFiles(["mesh/export.yaml": exportYAML("spec: []\n")]),
                  ["mesh/export.yaml:6:7: spec: expected a mapping, got a list"]),
        ErrorCase("status is not accepted", meshFiles(["mesh/export.yaml": exportYAML("status: { conditions: [] }\n")]),
                  ["mesh/export.yaml:6:1: status: unknown field \"status\"; known fields: apiVersion, kind, metadata, spec"]),
        ErrorCase("exported twice", meshFiles(["mesh/a.yaml": exportYAML(), "mesh/b.yaml": exportYAML()]),
                  ["mesh/b.yaml:4:9: metadata.name: ServiceExport production/webapp is defined twice; the first is at mesh/a.yaml:4:9"]),
        ErrorCase("a mirrored service cannot be exported",
                  meshFiles(["mesh/link.yaml": linkYAML(), "mesh/mirror.yaml": mirrorSliceYAML(),
                             "mesh/export.yaml": replacing(exportYAML(), "  name: webapp", "  name: webapp-cluster2")]),
                  ["mesh/export.yaml:4:9: metadata.name: webapp-cluster2.production is mirrored from cluster2 (EndpointSlice production/webapp-cluster2-1 at mesh/mirror.yaml:4:9); only local services can be exported"]),
        ErrorCase("wrong apiVersion", export("multicluster.x-k8s.io/v1alpha1", "multicluster.x-k8s.io/v1beta1"),
                  ["mesh/export.yaml:1:13: apiVersion: apiVersion multicluster.x-k8s.io/v1beta1 is not served for kind ServiceExport; expected multicluster.x-k8s.io/v1alpha1"]),
    ]

    static let mirrorCases: [ErrorCase] = [
        ErrorCase("source cluster without a Link",
                  meshFiles(["mesh/link.yaml": linkYAML(), "mesh/mirror.yaml": replacing(
                      replacing(mirrorSliceYAML(), mirrorSourceLine, "    multicluster.kubernetes.io/source-cluster: cluster3"),
                      mirrorServiceLine, "    kubernetes.io/service-name: webapp-cluster3")]),
                  ["mesh/mirror.yaml:8:48: \(sourceLabel): no Link for cluster \"cluster3\"; a mirrored slice's source cluster must be the cluster of a Link (linked: cluster2)"]),
        ErrorCase("source cluster when there are no Links", meshFiles(["mesh/mirror.yaml": mirrorSliceYAML()]),
                  ["mesh/mirror.yaml:8:48: \(sourceLabel): no Link for cluster \"cluster2\"; a mirrored slice's source cluster must be the cluster of a Link (there are no Links)"]),
        ErrorCase("source cluster is the proxy's own",
                  meshFiles(["mesh/link.yaml": linkYAML(), "mesh/mirror.yaml": replacing(
                      replacing(mirrorSliceYAML(), mirrorSourceLine, "    multicluster.kubernetes.io/source-cluster: cluster1"),
                      mirrorServiceLine, "    kubernetes.io/service-name: webapp-cluster1")]),
                  ["mesh/mirror.yaml:8:48: \(sourceLabel): \"cluster1\" is this proxy's own cluster; a mirrored slice comes from a linked cluster"]),
        ErrorCase("service name without the cluster suffix", mirror(mirrorServiceLine, "    kubernetes.io/service-name: webapp"),
                  ["mesh/mirror.yaml:7:33: \(serviceLabel): \"webapp\" does not end with \"-cluster2\": a service mirrored from cluster2 is named after its name there, plus \"-cluster2\" (webapp-cluster2 mirrors webapp)"]),
        ErrorCase("service name whose remote part is not a name", mirror(mirrorServiceLine, "    kubernetes.io/service-name: webapp--cluster2"),
                  ["mesh/mirror.yaml:7:33: \(serviceLabel): \"webapp--cluster2\" without its \"-cluster2\" suffix is \"webapp-\", which is not a Service name; the name in cluster2 \(serviceName)"]),
        ErrorCase("gateway identity on a local slice",
                  meshFiles(["mesh/webapp.yaml": replacing(sliceYAML(), "    kubernetes.io/service-name: webapp",
                                                           "    kubernetes.io/service-name: webapp\n  annotations:\n    causeway.dev/gateway-identity: spiffe://mesh.local/gw")]),
                  ["mesh/webapp.yaml:9:36: \(identityAnnotation): only a mirrored slice (labelled multicluster.kubernetes.io/source-cluster) names a gateway identity; a local service's endpoints are not behind a gateway"]),
        ErrorCase("gateway identity not a SPIFFE ID", mirror(mirrorSourceLine, annotated("spiffe://mesh.local/ns//gw")),
                  ["mesh/mirror.yaml:10:36: \(identityAnnotation): \"spiffe://mesh.local/ns//gw\" is not a SPIFFE ID: empty path segment"]),
        ErrorCase("gateway identity in another trust domain", mirror(mirrorSourceLine, annotated("spiffe://other.local/gw")),
                  ["mesh/mirror.yaml:10:36: \(identityAnnotation): \"spiffe://other.local/gw\" is in trust domain \"other.local\", not this proxy's \"mesh.local\" (spec.trustDomain of the Proxy)"]),
        ErrorCase("slices disagree on the gateway identity",
                  meshFiles([
                      "mesh/link.yaml": linkYAML(),
                      "mesh/a.yaml": replacing(mirrorSliceYAML(), mirrorSourceLine, annotated("spiffe://mesh.local/ns/mesh-system/sa/other-gateway")),
                      "mesh/b.yaml": replacing(mirrorSliceYAML(), "  name: webapp-cluster2-1", "  name: webapp-cluster2-2"),
                  ]),
                  ["mesh/b.yaml:4:9: \(identityAnnotation): service webapp-cluster2.production has gateway identity none (the Link's) here but \"spiffe://mesh.local/ns/mesh-system/sa/other-gateway\" in EndpointSlice production/webapp-cluster2-1 at mesh/a.yaml:10:36; all slices of a service must agree"]),
        ErrorCase("slices disagree on the source cluster",
                  meshFiles([
                      "mesh/link.yaml": linkYAML(),
                      "mesh/a.yaml": mirrorSliceYAML(),
                      "mesh/b.yaml": replacing(replacing(sliceYAML(), "  name: webapp-1", "  name: webapp-cluster2-2"),
                                               "    kubernetes.io/service-name: webapp", mirrorServiceLine),
                  ]),
                  ["mesh/b.yaml:7:5: \(sourceLabel): service webapp-cluster2.production has source cluster none (local) here but \"cluster2\" in EndpointSlice production/webapp-cluster2-1 at mesh/a.yaml:7:5; all slices of a service must agree"]),
    ]

    @Test("Link", arguments: linkCases)
    func links(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("ServiceExport", arguments: exportCases)
    func exports(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("mirrored EndpointSlices", arguments: mirrorCases)
    func mirrors(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("a broken Link does not make its mirrored slices unlinked too")
    func noCascade() throws {
        let files = meshFiles([
            "mesh/link.yaml": replacing(linkYAML(), gatewaysLine, "  gateways: [ \"gw:15443\" ]"),
            "mesh/mirror.yaml": mirrorSliceYAML(),
        ])
        let problems = try withTree(files) { $0.problems() }
        #expect(problems == [
            "mesh/link.yaml:7:15: spec.gateways[0]: host \"gw\" in \"gw:15443\" must be an IP address such as 127.0.0.1, not a name",
        ])
    }
}
