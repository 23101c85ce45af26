import Testing
@testable import CausewayApp

private func withDocument(_ document: String) -> String {
    proxyYAML() + "---\n" + document
}

@Suite("Documents, kinds and files")
struct DocumentValidationTests {
    @Test("the traffic policy kinds are read in every apiVersion served", arguments: [
        ("HTTPRoute", "gateway.networking.k8s.io/v1"), ("HTTPRoute", "gateway.networking.k8s.io/v1beta1"),
        ("DestinationRule", "networking.istio.io/v1"), ("DestinationRule", "networking.istio.io/v1beta1"),
        ("DestinationRule", "networking.istio.io/v1alpha3"),
        ("AuthorizationPolicy", "security.istio.io/v1"), ("AuthorizationPolicy", "security.istio.io/v1beta1"),
    ])
    func policyKinds(kind: String, apiVersion: String) throws {
        let spec = switch kind {
        case "HTTPRoute": "{ parentRefs: [ { kind: Service, name: webapp } ], rules: [ {} ] }"
        case "DestinationRule": "{ host: webapp }"
        default: "{ targetRefs: [ { kind: Service, name: webapp } ] }"
        }
        let config = try withTree(["causeway.yaml": withDocument("apiVersion: \(apiVersion)\nkind: \(kind)\nmetadata: { name: x }\nspec: \(spec)\n")]) {
            try $0.load().get()
        }
        let ids = config.policies.routes.map(\.id) + config.policies.destinations.map(\.id) + config.policies.authorizations.map(\.id)
        #expect(ids == ["default/x"])
    }

    static let cases: [ErrorCase] = [
        ErrorCase("unknown kind", config: withDocument("apiVersion: v1\nkind: Service\nmetadata: { name: webapp }\n"),
                  ["causeway.yaml:13:7: kind: unknown kind Service (apiVersion v1)"]),
        ErrorCase("unknown kind without apiVersion", config: withDocument("kind: Service\n"),
                  ["causeway.yaml:12:7: kind: unknown kind Service (apiVersion missing)"]),
        ErrorCase("wrong apiVersion for EndpointSlice", config: withDocument("apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\n"),
                  ["causeway.yaml:12:13: apiVersion: apiVersion discovery.k8s.io/v1beta1 is not served for kind EndpointSlice; expected discovery.k8s.io/v1"]),
        ErrorCase("wrong apiVersion for Proxy",
                  config: proxyYAML().replacingOccurrences(of: "causeway.dev/v1alpha1", with: "causeway.dev/v1"),
                  ["causeway.yaml:1:13: apiVersion: apiVersion causeway.dev/v1 is not served for kind Proxy; expected causeway.dev/v1alpha1"]),
        ErrorCase("apiVersion missing", config: withDocument("kind: EndpointSlice\nmetadata: { name: x }\n"),
                  ["causeway.yaml:12:1: apiVersion: required field is missing (expected discovery.k8s.io/v1)"]),
        ErrorCase("kind missing", config: withDocument("apiVersion: v1\nmetadata: { name: x }\n"),
                  ["causeway.yaml:12:1: kind: required field is missing"]),
        ErrorCase("kind not a string", config: withDocument("apiVersion: v1\nkind: [Proxy]\n"),
                  ["causeway.yaml:13:7: kind: expected a string, got a list"]),
        ErrorCase("document that is a list", config: withDocument("- a\n- b\n"),
                  ["causeway.yaml:12:1: a resource must be a mapping with apiVersion and kind, got a list"]),
        ErrorCase("no Proxy document", config: sliceYAML(),
                  ["causeway.yaml: no Proxy document (kind: Proxy, apiVersion: causeway.dev/v1alpha1); the config needs exactly one"]),
        ErrorCase("empty config file", config: "# nothing here\n",
                  ["causeway.yaml: no Proxy document (kind: Proxy, apiVersion: causeway.dev/v1alpha1); the config needs exactly one"]),
        ErrorCase("two Proxy documents", config: proxyYAML() + "---\n" + proxyYAML(),
                  ["causeway.yaml:13:7: kind: a second Proxy document; the first is at causeway.yaml:2:7"]),
        ErrorCase("Proxy in a resource file",
                  ["causeway.yaml": proxyYAML("  resources: [ mesh/ ]\n"), "mesh/other.yaml": proxyYAML()],
                  ["mesh/other.yaml:2:7: kind: a Proxy belongs in the config file, not in a resource file"]),
        ErrorCase("YAML syntax error", config: proxyYAML("  admin: { address: \"127.0.0.1:15000\"\n  http2: {}\n"),
                  ["causeway.yaml:12:3: YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping at line 11, column 10)"]),
        ErrorCase("YAML syntax error after a valid document keeps the first document's problems",
                  config: proxyYAML("  workers: 0\n") + "---\nkind: EndpointSlice\n  bad: indent\n",
                  ["causeway.yaml:11:12: spec.workers: 0 is out of range: must be between 1 and 256",
                   "causeway.yaml:14:6: YAML syntax error: mapping values are not allowed in this context"]),
        ErrorCase("duplicate key", config: proxyYAML("  cluster: cluster2\n"),
                  ["causeway.yaml:6:3: duplicate key \"cluster\" in one mapping"]),
        ErrorCase("syntax error in a resource file",
                  ["causeway.yaml": proxyYAML("  resources: [ mesh/ ]\n"), "mesh/bad.yaml": "kind: [\n"],
                  ["mesh/bad.yaml:2:1: YAML syntax error: did not find expected node content (while parsing a flow node)"]),
    ]

    @Test("each document problem is reported where it is", arguments: cases)
    func invalid(_ errorCase: ErrorCase) throws { try check(errorCase) }

    @Test("a missing config file is reported by the path given")
    func missingConfig() throws {
        try withTree([:]) { tree in
            #expect(tree.problems("conf/causeway.yaml") == ["conf/causeway.yaml: no such file or directory"])
        }
    }

    @Test("a config directory without YAML files is reported")
    func emptyConfigDirectory() throws {
        try withTree(["conf/readme.txt": "hi"]) { tree in
            #expect(tree.problems("conf") == ["conf: directory has no *.yaml or *.yml files"])
        }
    }

    @Test("a file that is not UTF-8 is reported")
    func notUTF8() throws {
        try withTree(["causeway.yaml": proxyYAML("  resources: [ mesh/bad.yaml ]\n")]) { tree in
            try tree.mkdir("mesh")
            try tree.writeBytes("mesh/bad.yaml", [0x6b, 0x69, 0x6e, 0x64, 0x3a, 0x20, 0xff, 0xfe, 0x0a])
            #expect(tree.problems() == ["mesh/bad.yaml: file is not valid UTF-8"])
        }
    }

    @Test("problems from several files are reported together, by file then line")
    func severalAtOnce() throws {
        let config = proxyYAML("  resources: [ mesh/ ]\n  http2: { maxConcurrentStreams: 0 }\n")
            .replacingOccurrences(of: "  cluster: cluster1", with: "  cluster: Cluster1")
            .replacingOccurrences(of: "    role: sidecar", with: "    role: gateway")
        let files = [
            "causeway.yaml": config,
            "mesh/a.yaml": sliceYAML().replacingOccurrences(of: "[\"10.1.0.5\"]", with: "[\"10.1.0.5\", \"10.1.0.x\"]"),
            "mesh/b.yaml": sliceYAML().replacingOccurrences(of: "IPv4", with: "FQDN")
                .replacingOccurrences(of: "webapp-1", with: "webapp-2") + "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n",
            "mesh/c.yaml": "apiVersion: v1\nkind: : :\n",
        ]
        let problems = try withTree(files) { $0.problems() }
        #expect(problems == [
            "causeway.yaml:6:12: spec.cluster: \"Cluster1\" must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
            "causeway.yaml:9:11: spec.listeners[0].role: a gateway listener accepts only mTLS from other clusters, so spec.tls is required",
            "causeway.yaml:12:34: spec.http2.maxConcurrentStreams: 0 is out of range: must be between 1 and 4294967295",
            "mesh/a.yaml:12:27: endpoints[0].addresses[1]: \"10.1.0.x\" is not an IP address",
            "mesh/b.yaml:8:14: addressType: addressType FQDN is not supported; use IPv4 or IPv6",
            "mesh/b.yaml:14:1: metadata: required field is missing",
            "mesh/b.yaml:14:1: spec: required field is missing",
            "mesh/c.yaml:2:7: YAML syntax error: mapping values are not allowed in this context",
        ])
    }

    @Test("ConfigErrors prints one problem per line")
    func errorsDescription() throws {
        let files = ["causeway.yaml": proxyYAML("  workers: 0\n  namespace: Prod\n")]
        let result = try withTree(files) { $0.load() }
        guard case .failure(let errors) = result else {
            Issue.record("expected failure")
            return
        }
        #expect(errors.description == """
            causeway.yaml:11:12: spec.workers: 0 is out of range: must be between 1 and 256
            causeway.yaml:12:14: spec.namespace: "Prod" must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit
            """)
        #expect(errors.problems.map(\.line) == [11, 12])
        #expect(errors.problems[0].file == "causeway.yaml")
        #expect(errors.problems[0].column == 12)
        #expect(errors.problems[0].field == "spec.workers")
    }
}
