import Testing
@testable import CausewayApp

@Suite("SocketAddressSpec")
struct SocketAddressSpecTests {
    @Test("valid addresses", arguments: [
        ("127.0.0.1:15001", "127.0.0.1", UInt16(15001), "127.0.0.1:15001"),
        ("0.0.0.0:15443", "0.0.0.0", 15443, "0.0.0.0:15443"),
        ("127.0.0.1:0", "127.0.0.1", 0, "127.0.0.1:0"),
        ("[::1]:15001", "::1", 15001, "[::1]:15001"),
        ("[::]:65535", "::", 65535, "[::]:65535"),
        ("[2001:DB8:0::1]:443", "2001:db8::1", 443, "[2001:db8::1]:443"),
    ])
    func valid(text: String, host: String, port: UInt16, description: String) throws {
        let address = try SocketAddressSpec(parsing: text)
        #expect(address.host == host)
        #expect(address.port == port)
        #expect(address.description == description)
        #expect(SocketAddressSpec(description) == address)
    }

    @Test("invalid addresses say why", arguments: [
        ("127.0.0.1", "\"127.0.0.1\" needs a port, e.g. \"127.0.0.1:15001\""),
        ("127.0.0.1:", "port \"\" in \"127.0.0.1:\" must be a number from 0 to 65535"),
        ("127.0.0.1:65536", "port \"65536\" in \"127.0.0.1:65536\" must be a number from 0 to 65535"),
        ("127.0.0.1:-1", "port \"-1\" in \"127.0.0.1:-1\" must be a number from 0 to 65535"),
        ("127.0.0.1:http", "port \"http\" in \"127.0.0.1:http\" must be a number from 0 to 65535"),
        ("127.0.0.1:000015001", "port \"000015001\" in \"127.0.0.1:000015001\" must be a number from 0 to 65535"),
        ("localhost:80", "host \"localhost\" in \"localhost:80\" must be an IP address such as 127.0.0.1, not a name"),
        (":80", "host \"\" in \":80\" must be an IP address such as 127.0.0.1, not a name"),
        ("::1:80", "IPv6 addresses need brackets, e.g. \"[::1]:15001\"; got \"::1:80\""),
        ("[::1", "\"[::1\" has no closing \"]\""),
        ("[::1]", "\"[::1]\" needs a port, e.g. \"[::1]:15001\""),
        ("[::1]80", "\"[::1]80\" needs a port, e.g. \"[::1]:15001\""),
        ("[10.0.0.1]:80", "\"10.0.0.1\" in \"[10.0.0.1]:80\" is not an IPv6 address"),
        ("", "\"\" needs a port, e.g. \":15001\""),
    ])
    func invalid(text: String, message: String) {
        #expect(throws: SocketAddressSpec.ParseError.self) { try SocketAddressSpec(parsing: text) }
        do {
            _ = try SocketAddressSpec(parsing: text)
        } catch {
            #expect(error.message == message)
        }
        #expect(SocketAddressSpec(text) == nil)
    }
}

@Suite("Durations")
struct DurationTests {
    @Test("valid durations", arguments: [
        ("250ms", 250), ("0ms", 0), ("1s", 1_000), ("2m", 120_000), ("1h", 3_600_000), ("90s", 90_000),
    ])
    func valid(text: String, millis: Int) {
        #expect(DurationText.millis(text) == millis)
    }

    @Test("invalid durations", arguments: ["", "1", "s", "ms", "1.5s", "-1s", "+1s", "1 s", "1d", "1S", "1m30s", "s1", "9999999999999h"])
    func invalid(text: String) {
        #expect(DurationText.millis(text) == nil)
    }

    @Test("formatting picks the largest exact unit", arguments: [
        (1, "1ms"), (1_000, "1s"), (1_500, "1500ms"), (60_000, "1m"), (90_000, "90s"), (86_400_000, "24h"), (0, "0ms"),
    ])
    func format(millis: Int, text: String) {
        #expect(DurationText.format(millis) == text)
    }

    @Test("the one conversion between milliseconds and nanoseconds", arguments: [
        (0, UInt64(0)), (1, 1_000_000), (250, 250_000_000), (2_592_000_000, 2_592_000_000_000_000),
    ])
    func nanos(millis: Int, nanos: UInt64) {
        #expect(DurationText.nanos(fromMillis: millis) == nanos)
        #expect(DurationText.millis(fromNanos: nanos) == millis)
    }

    @Test("days are suggested in hours", arguments: [
        ("30d", "720h"), ("1d", "24h"), ("0d", "0h"), ("d", nil), ("1.5d", nil), ("30", nil), ("1h", nil), ("-1d", nil),
    ] as [(String, String?)])
    func days(text: String, hours: String?) {
        #expect(DurationText.hoursForDays(text) == hours)
    }
}

@Suite("Names and paths")
struct NameAndPathTests {
    @Test("DNS labels", arguments: [
        ("webapp", true), ("a", true), ("web-app-2", true), ("0abc", true), (String(repeating: "a", count: 63), true),
        ("", false), ("-a", false), ("a-", false), ("Web", false), ("a_b", false), ("a.b", false),
        (String(repeating: "a", count: 64), false),
    ])
    func dnsLabel(name: String, valid: Bool) {
        #expect(NameRules.isDNSLabel(name) == valid)
    }

    @Test("service names start with a letter")
    func serviceNames() {
        #expect(NameRules.isServiceName("webapp"))
        #expect(!NameRules.isServiceName("1webapp"))
        #expect(!NameRules.isServiceName(""))
    }

    @Test("DNS subdomains and trust domains")
    func subdomains() {
        #expect(NameRules.isDNSSubdomain("webapp-1.example"))
        #expect(!NameRules.isDNSSubdomain("a..b"))
        #expect(!NameRules.isDNSSubdomain(".a"))
        #expect(!NameRules.isDNSSubdomain(String(repeating: "a.", count: 127) + "a"))
        #expect(NameRules.isTrustDomain("mesh.local"))
        #expect(NameRules.isTrustDomain("my_org-1.example"))
        #expect(!NameRules.isTrustDomain("Mesh.local"))
        #expect(!NameRules.isTrustDomain("spiffe://mesh.local"))
    }

    @Test("lexical path normalisation", arguments: [
        ("./a//b/./c", false, "a/b/c"),
        ("a/../b", false, "a/../b"),
        ("a/../b", true, "b"),
        ("/x/../../y", true, "/y"),
        ("../a", true, "../a"),
        (".", false, "."),
        ("/", true, "/"),
        ("mesh/", false, "mesh"),
    ])
    func normalise(path: String, resolvingParents: Bool, expected: String) {
        #expect(ConfigPaths.normalized(path, resolvingParents: resolvingParents) == expected)
    }

    @Test("paths resolve against the naming file's directory")
    func resolve() {
        let config = ConfigFile(commandLine: "./deploy/causeway.yaml", workingDirectory: "/work")
        #expect(config.display == "deploy/causeway.yaml")
        #expect(config.absolute == "/work/deploy/causeway.yaml")
        let mesh = config.resolve("../mesh/")
        #expect(mesh.display == "deploy/../mesh")
        #expect(mesh.absolute == "/work/mesh")
        #expect(mesh.child("a.yaml").display == "deploy/../mesh/a.yaml")
        let absolute = config.resolve("/etc/causeway/certs/root.pem")
        #expect(absolute.display == "/etc/causeway/certs/root.pem")
        #expect(absolute.absolute == "/etc/causeway/certs/root.pem")
        let bare = ConfigFile(commandLine: "causeway.yaml", workingDirectory: "/work/")
        #expect(bare.resolve("mesh").display == "mesh")
        #expect(bare.resolve("mesh").absolute == "/work/mesh")
    }

    @Test("field paths quote keys that are not identifiers")
    func fieldPaths() {
        let path = FieldPath.root.key("metadata").key("labels").key("kubernetes.io/service-name")
        #expect(path.description == "metadata.labels[\"kubernetes.io/service-name\"]")
        #expect(FieldPath.root.key("spec").key("listeners").index(1).key("address").description == "spec.listeners[1].address")
    }

    @Test("edit distance for suggestions")
    func distance() {
        #expect(NodeReader.editDistance("address", "adress") == 1)
        #expect(NodeReader.editDistance("name", "nmae") == 2)
        #expect(NodeReader.editDistance("", "abc") == 3)
        #expect(NodeReader.editDistance("same", "same") == 0)
    }
}

@Suite("Problem and JSON formatting")
struct FormattingTests {
    @Test("problem descriptions")
    func problems() {
        #expect(ConfigProblem(file: "mesh/webapp.yaml", line: 7, column: 5, field: "endpoints[0].addresses[0]",
                              message: "\"10.1.0.x\" is not an IP address").description
                == "mesh/webapp.yaml:7:5: endpoints[0].addresses[0]: \"10.1.0.x\" is not an IP address")
        #expect(ConfigProblem(file: "c.yaml", line: 0, column: 0, field: "", message: "cannot read file").description
                == "c.yaml: cannot read file")
        #expect(ConfigProblem(file: "c.yaml", line: 3, column: 1, field: "", message: "YAML syntax error: x").description
                == "c.yaml:3:1: YAML syntax error: x")
    }

    @Test("JSON strings are escaped")
    func escaping() {
        let value = JSONValue.object([("k\"ey", .string("a\\b\n\t\r\u{01}é\"")), ("list", .array([.int(-1), .bool(true), .null, .object([])]))])
        #expect(value.pretty() == """
            {
              "k\\"ey": "a\\\\b\\n\\t\\r\\u0001é\\"",
              "list": [
                -1,
                true,
                null,
                {}
              ]
            }

            """)
    }
}
