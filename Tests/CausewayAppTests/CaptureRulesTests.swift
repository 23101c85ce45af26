import CausewayMesh
import Testing
@testable import CausewayApp

/// `proxyYAML` with a `spec.capture` (line 11) and more `spec` lines after it.
private func captureYAML(_ capture: String, extra: String = "") -> String {
    proxyYAML("  capture: \(capture)\n" + extra)
}

/// The Proxy of `yaml`, which must be valid.
private func proxyConfig(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProxyConfig {
    try withTree(["causeway.yaml": yaml]) { tree in try tree.load().get().proxy }
}

@Suite("causeway capture: the rules")
struct CaptureRulesTests {
    @Test("the issue's example: every rule, in order, as iptables-restore input")
    func example() throws {
        let proxy = try proxyConfig(captureYAML("{ mark: 1337, excludePorts: [ 22 ], excludeCIDRs: [ 169.254.169.254/32 ], sniffTimeout: 100ms }",
                                                extra: "  dns: { address: \"127.0.0.1:15053\", virtualIPs: 240.240.0.0/16, upstream: 198.18.0.53 }\n"))
        let rules = try CaptureRules(proxy)
        #expect(rules.ipv4.restoreInput == """
            *nat
            :CAUSEWAY_OUTPUT - [0:0]
            :CAUSEWAY_REDIRECT - [0:0]
            :CAUSEWAY_DNS - [0:0]
            -A CAUSEWAY_OUTPUT -m mark --mark 1337 -j RETURN
            -A CAUSEWAY_OUTPUT -p udp --dport 53 -j CAUSEWAY_DNS
            -A CAUSEWAY_OUTPUT -p tcp --dport 53 -j CAUSEWAY_DNS
            -A CAUSEWAY_OUTPUT -o lo -j RETURN
            -A CAUSEWAY_OUTPUT -d 127.0.0.0/8 -j RETURN
            -A CAUSEWAY_OUTPUT -p tcp --dport 22 -j RETURN
            -A CAUSEWAY_OUTPUT -d 169.254.169.254/32 -j RETURN
            -A CAUSEWAY_OUTPUT -p tcp -j CAUSEWAY_REDIRECT
            -A CAUSEWAY_REDIRECT -p tcp -j REDIRECT --to-ports 15001
            -A CAUSEWAY_DNS -p udp -j REDIRECT --to-ports 15053
            -A CAUSEWAY_DNS -p tcp -j REDIRECT --to-ports 15053
            -A OUTPUT -j CAUSEWAY_OUTPUT
            COMMIT

            """)
        // The only sidecar listener is IPv4: IPv6 is left alone (a REDIRECT to ::1 would
        // refuse every IPv6 connection).
        #expect(rules.ipv6.isEmpty)
        #expect(proxy.capture.sniffTimeoutNanos == 100_000_000)
        let printed = rules.rendered(source: "causeway.yaml")
        #expect(printed.contains("# iptables-restore --noflush\n*nat\n"))
        #expect(printed.contains("# ip6tables: no rules\n"))
        #expect(printed.contains("#   IPv4 TCP -> 127.0.0.1:15001 (listener outbound)\n"))
        // What each family gets, TCP and DNS, said in the header.
        #expect(printed.contains("""
            #   IPv4 TCP -> 127.0.0.1:15001 (listener outbound)
            #   IPv6 TCP: not redirected (no sidecar listener on ::1 or ::)
            #   IPv4 DNS (UDP and TCP port 53) -> 127.0.0.1:15053 (spec.dns.address 127.0.0.1:15053)
            #   IPv6 DNS: not redirected (spec.dns.address 127.0.0.1:15053 takes IPv4 only; a resolver the pod asks over IPv6 gets no mesh names: listen on ::1 or :: to serve IPv6)

            """))
    }

    @Test("capture: {} takes the default mark, no exclusions; without spec.dns port 53 is left alone")
    func defaults() throws {
        let bare = try proxyConfig(proxyYAML())
        #expect(bare.capture == CaptureConfig())
        #expect(bare.capture.mark == 1337 && !bare.capture.configured)
        #expect(bare.capture.passthroughIdleTimeoutNanos == 3_600_000_000_000)
        let proxy = try proxyConfig(captureYAML("{}"))
        #expect(proxy.capture.configured)
        let rules = try CaptureRules(proxy)
        #expect(rules.ipv4.rules.map { $0.joined(separator: " ") } == [
            "-A CAUSEWAY_OUTPUT -m mark --mark 1337 -j RETURN",
            "-A CAUSEWAY_OUTPUT -o lo -j RETURN",
            "-A CAUSEWAY_OUTPUT -d 127.0.0.0/8 -j RETURN",
            "-A CAUSEWAY_OUTPUT -p tcp -j CAUSEWAY_REDIRECT",
            "-A CAUSEWAY_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
            "-A OUTPUT -j CAUSEWAY_OUTPUT",
        ])
        #expect(rules.ipv4.chains == ["CAUSEWAY_OUTPUT", "CAUSEWAY_REDIRECT"])
        let withDNS = try CaptureRules(try proxyConfig(captureYAML("{}", extra: "  dns: { upstream: 198.18.0.53 }\n")))
        #expect(withDNS.ipv4.rules.contains(["-A", "CAUSEWAY_DNS", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15053"]))
    }

    @Test("uids, both families' CIDRs and includeCIDRs; an IPv6 sidecar listener gets IPv6 rules")
    func ipv6AndOptions() throws {
        let yaml = captureYAML("{ mark: 7, excludeUIDs: [ 1337, 0 ], excludePorts: [ 22, 2222 ], excludeCIDRs: [ 10.0.0.0/8, \"fd00:ec2::254/128\" ], includeCIDRs: [ 10.96.0.0/12, \"fd00::/8\" ] }",
                               extra: "  admin: { address: \"127.0.0.1:15010\" }\n")
            .replacingOccurrences(of: "    address: \"127.0.0.1:15001\"\n",
                                  with: "    address: \"127.0.0.1:15001\"\n  - { name: outbound6, role: sidecar, address: \"[::1]:15006\" }\n")
        let rules = try CaptureRules(try proxyConfig(yaml))
        #expect(rules.ipv6.rules.map { $0.joined(separator: " ") } == [
            "-A CAUSEWAY_OUTPUT -m mark --mark 7 -j RETURN",
            "-A CAUSEWAY_OUTPUT -m owner --uid-owner 1337 -j RETURN",
            "-A CAUSEWAY_OUTPUT -m owner --uid-owner 0 -j RETURN",
            "-A CAUSEWAY_OUTPUT -o lo -j RETURN",
            "-A CAUSEWAY_OUTPUT -d ::1/128 -j RETURN",
            "-A CAUSEWAY_OUTPUT -p tcp --dport 22 -j RETURN",
            "-A CAUSEWAY_OUTPUT -p tcp --dport 2222 -j RETURN",
            "-A CAUSEWAY_OUTPUT -d fd00:ec2::254/128 -j RETURN",
            "-A CAUSEWAY_OUTPUT -d fd00::/8 -p tcp -j CAUSEWAY_REDIRECT",
            "-A CAUSEWAY_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
            "-A OUTPUT -j CAUSEWAY_OUTPUT",
        ])
        #expect(rules.ipv6.chains == ["CAUSEWAY_OUTPUT", "CAUSEWAY_REDIRECT"])
        let v4 = rules.ipv4.rules.map { $0.joined(separator: " ") }
        #expect(v4.contains("-A CAUSEWAY_OUTPUT -d 10.0.0.0/8 -j RETURN"))
        #expect(v4.contains("-A CAUSEWAY_OUTPUT -d 10.96.0.0/12 -p tcp -j CAUSEWAY_REDIRECT"))
        #expect(!v4.contains("-A CAUSEWAY_OUTPUT -p tcp -j CAUSEWAY_REDIRECT"))
        #expect(!v4.contains { $0.contains("fd00") })
    }

    @Test("includeCIDRs of one family leave the other family's TCP alone")
    func includeOtherFamily() throws {
        let rules = try CaptureRules(try proxyConfig(captureYAML("{ includeCIDRs: [ \"fd00::/8\" ] }", extra: "  dns: { upstream: 198.18.0.53 }\n")))
        #expect(!rules.ipv4.rules.contains { $0.contains("CAUSEWAY_REDIRECT") && $0[1] == "CAUSEWAY_OUTPUT" })
        // DNS is still captured.
        #expect(rules.ipv4.rules.contains(["-A", "CAUSEWAY_DNS", "-p", "udp", "-j", "REDIRECT", "--to-ports", "15053"]))
    }

    @Test("without spec.capture there are no rules, and the sidecar looks for no original destination")
    func absentSection() throws {
        let proxy = try proxyConfig(proxyYAML())
        #expect(throws: CaptureRules.Problem.self) { try CaptureRules(proxy) }
        do {
            _ = try CaptureRules(proxy)
        } catch {
            #expect(error.description.contains("no spec.capture section") && error.description.contains("capture: {}"))
        }
        #expect(!SnapshotBuilder.settings(proxy).capture.enabled)
        #expect(SnapshotBuilder.settings(try proxyConfig(captureYAML("{}"))).capture.enabled)
    }

    @Test("unmarked connections refuse capture unless the proxy's uid is excluded; only with spec.capture")
    func refusal() throws {
        let capture = try proxyConfig(captureYAML("{ excludeUIDs: [ 4242 ] }")).capture
        #expect(SnapshotBuilder.captureRefusal(capture, unmarked: nil, uid: 0) == nil)
        let reason = try #require(SnapshotBuilder.captureRefusal(capture, unmarked: "setsockopt(SO_MARK, 1337): Operation not permitted (errno 1)", uid: 0))
        #expect(reason.contains("carry no mark (setsockopt(SO_MARK, 1337): Operation not permitted (errno 1))"))
        #expect(reason.contains("its uid 0 is not in spec.capture.excludeUIDs"))
        #expect(SnapshotBuilder.captureRefusal(capture, unmarked: "EPERM", uid: 4242) == nil)
        let configured = try proxyConfig(captureYAML("{}"))
        #expect(SnapshotBuilder.settings(configured, captureRefusal: reason).capture.refusal == reason)
        #expect(SnapshotBuilder.settings(configured).capture.refusal == nil)
        // Without the section nothing is captured, so nothing is refused.
        #expect(SnapshotBuilder.settings(try proxyConfig(proxyYAML()), captureRefusal: reason).capture.refusal == nil)
    }

    @Test("DNS is redirected in the family its address serves, and the header says what each family gets")
    func dnsFamilies() throws {
        let proxy = try proxyConfig(captureYAML("{}"))
        let target = try #require(CaptureTarget(listeners: proxy.listeners))
        func dnsRules(_ rules: CaptureRules) -> (v4: Bool, v6: Bool) {
            (rules.ipv4.chains.contains("CAUSEWAY_DNS"), rules.ipv6.chains.contains("CAUSEWAY_DNS"))
        }
        let wildcard4 = try CaptureRules(capture: proxy.capture, target: target, dns: SocketAddressSpec("0.0.0.0:15053")!)
        #expect(dnsRules(wildcard4) == (true, false))
        #expect(wildcard4.summary.contains("IPv6 DNS: not redirected (spec.dns.address 0.0.0.0:15053 takes IPv4 only; a resolver the pod asks over IPv6 gets no mesh names: listen on ::1 or :: to serve IPv6)"))
        // `::` is bound IPv6-only: IPv4 DNS cannot reach it, and the header says so.
        let wildcard6 = try CaptureRules(capture: proxy.capture, target: target, dns: SocketAddressSpec("[::]:15053")!)
        #expect(dnsRules(wildcard6) == (false, true))
        #expect(wildcard6.summary.contains("IPv4 DNS: not redirected (spec.dns.address [::]:15053 takes IPv6 only; a resolver the pod asks over IPv4 gets no mesh names: listen on 127.0.0.1 or 0.0.0.0 to serve IPv4)"))
        #expect(wildcard6.summary.contains("IPv6 DNS (UDP and TCP port 53) -> [::1]:15053 (spec.dns.address [::]:15053)"))
        #expect(wildcard6.purposes[.ipv6] == ["IPv6 DNS (UDP and TCP port 53) -> [::1]:15053 (spec.dns.address [::]:15053)"])
        #expect(wildcard6.ipv6.rules.map { $0.joined(separator: " ") } == [
            "-A CAUSEWAY_OUTPUT -m mark --mark 1337 -j RETURN",
            "-A CAUSEWAY_OUTPUT -p udp --dport 53 -j CAUSEWAY_DNS",
            "-A CAUSEWAY_OUTPUT -p tcp --dport 53 -j CAUSEWAY_DNS",
            "-A CAUSEWAY_OUTPUT -o lo -j RETURN",
            "-A CAUSEWAY_OUTPUT -d ::1/128 -j RETURN",
            "-A CAUSEWAY_DNS -p udp -j REDIRECT --to-ports 15053",
            "-A CAUSEWAY_DNS -p tcp -j REDIRECT --to-ports 15053",
            "-A OUTPUT -j CAUSEWAY_OUTPUT",
        ])
        let none = try CaptureRules(capture: proxy.capture, target: target, dns: nil)
        #expect(none.summary.contains("IPv4 DNS: not redirected (no spec.dns: the sidecar serves no DNS)"))
        #expect(none.summary.contains("IPv6 DNS: not redirected (no spec.dns: the sidecar serves no DNS)"))
        #expect(none.purposes[.ipv6] == [])
    }

    @Test("a DNS address REDIRECT cannot reach is refused")
    func dnsUnreachable() throws {
        let proxy = try proxyConfig(proxyYAML())
        let target = try #require(CaptureTarget(listeners: proxy.listeners))
        #expect(throws: CaptureRules.Problem.self) {
            try CaptureRules(capture: proxy.capture, target: target, dns: SocketAddressSpec("10.0.0.10:53")!)
        }
        let noDNS = try CaptureRules(capture: proxy.capture, target: target, dns: nil)
        #expect(!noDNS.ipv4.rules.contains { $0.contains("--dport") && $0.contains("53") })
        #expect(noDNS.ipv4.chains == ["CAUSEWAY_OUTPUT", "CAUSEWAY_REDIRECT"])
    }
}

@Suite("spec.capture validation")
struct CaptureValidationTests {
    static let cases: [ErrorCase] = [
        ErrorCase("mark 0", config: captureYAML("{ mark: 0 }"),
                  ["causeway.yaml:11:20: spec.capture.mark: 0 is out of range: must be between 1 and 4294967295"]),
        ErrorCase("mark as a string", config: captureYAML("{ mark: \"1337\" }"),
                  ["causeway.yaml:11:20: spec.capture.mark: expected an integer, got the string \"1337\""]),
        ErrorCase("port out of range and repeated", config: captureYAML("{ excludePorts: [ 22, 0, 22 ] }"),
                  ["causeway.yaml:11:34: spec.capture.excludePorts[1]: 0 is out of range: must be between 1 and 65535",
                   "causeway.yaml:11:37: spec.capture.excludePorts[2]: port 22 is already listed at spec.capture.excludePorts[0]"]),
        ErrorCase("CIDR with host bits", config: captureYAML("{ excludeCIDRs: [ 169.254.169.254/16 ] }"),
                  ["causeway.yaml:11:30: spec.capture.excludeCIDRs[0]: \"169.254.169.254/16\" has host bits set; the network is 169.254.0.0/16"]),
        ErrorCase("CIDR without length", config: captureYAML("{ includeCIDRs: [ 10.0.0.1 ] }"),
                  ["causeway.yaml:11:30: spec.capture.includeCIDRs[0]: \"10.0.0.1\" has no prefix length; write 10.0.0.1/32 for one address"]),
        ErrorCase("uid out of range", config: captureYAML("{ excludeUIDs: [ 4294967295 ] }"),
                  ["causeway.yaml:11:29: spec.capture.excludeUIDs[0]: 4294967295 is out of range: must be between 0 and 4294967294"]),
        ErrorCase("sniffTimeout too short", config: captureYAML("{ sniffTimeout: 1ms }"),
                  ["causeway.yaml:11:28: spec.capture.sniffTimeout: 1ms is out of range: must be between 10ms and 30s"]),
        ErrorCase("passthroughIdleTimeout too short", config: captureYAML("{ passthroughIdleTimeout: 500ms }"),
                  ["causeway.yaml:11:38: spec.capture.passthroughIdleTimeout: 500ms is out of range: must be 0s (none) or between 1s and 168h"]),
        ErrorCase("passthroughIdleTimeout in days", config: captureYAML("{ passthroughIdleTimeout: 8d }"),
                  ["causeway.yaml:11:38: spec.capture.passthroughIdleTimeout: \"8d\" is not a duration such as 250ms, 1s, 2m or 1h (there is no unit for days: write 192h)"]),
        ErrorCase("passthroughIdleTimeout as a number", config: captureYAML("{ passthroughIdleTimeout: 3600 }"),
                  ["causeway.yaml:11:38: spec.capture.passthroughIdleTimeout: expected a duration such as 250ms, 1s, 2m or 1h, got the integer 3600"]),
        ErrorCase("unknown field", config: captureYAML("{ excludePort: [ 22 ] }"),
                  ["causeway.yaml:11:14: spec.capture.excludePort: unknown field \"excludePort\" (did you mean \"excludePorts\"?)"]),
        ErrorCase("no sidecar listener to redirect to",
                  config: captureYAML("{ mark: 1337 }").replacingOccurrences(of: "role: sidecar", with: "role: gateway")
                    + "  tls: { trustBundle: root.pem, certificateChain: chain.pem, privateKey: key.pem }\n",
                  ["causeway.yaml:11:12: spec.capture: capture redirects outbound TCP to the first sidecar listener, and spec.listeners has none",
                   "causeway.yaml:12:23: spec.tls.trustBundle: file root.pem does not exist",
                   "causeway.yaml:12:51: spec.tls.certificateChain: file chain.pem does not exist",
                   "causeway.yaml:12:74: spec.tls.privateKey: file key.pem does not exist"]),
        ErrorCase("a sidecar listener REDIRECT cannot reach",
                  config: captureYAML("{ mark: 1337 }").replacingOccurrences(of: "127.0.0.1:15001", with: "10.1.0.4:15001"),
                  ["causeway.yaml:11:12: spec.capture: capture redirects to the first sidecar listener (outbound), which listens on 10.1.0.4:15001; REDIRECT delivers to 127.0.0.1, so it must listen on 127.0.0.1 or 0.0.0.0"]),
        ErrorCase("a sidecar listener on port 0",
                  config: captureYAML("{ mark: 1337 }").replacingOccurrences(of: "127.0.0.1:15001", with: "127.0.0.1:0"),
                  ["causeway.yaml:11:12: spec.capture: capture redirects to the first sidecar listener (outbound), whose port is 0 (chosen at start); give it a fixed port"]),
    ]

    @Test("each problem names its file, line, column and field", arguments: cases)
    func problems(_ errorCase: ErrorCase) throws {
        try check(errorCase)
    }

    @Test("passthroughIdleTimeout: 0s is none; the value reaches the workers' settings")
    func passthroughIdleTimeout() throws {
        let none = try proxyConfig(captureYAML("{ passthroughIdleTimeout: 0s }"))
        #expect(none.capture.passthroughIdleTimeoutNanos == 0)
        #expect(SnapshotBuilder.settings(none).capture.passthroughIdleNanos == 0)
        let week = try proxyConfig(captureYAML("{ passthroughIdleTimeout: 168h }"))
        #expect(SnapshotBuilder.settings(week).capture.passthroughIdleNanos == 168 * 3_600_000_000_000)
        #expect(SnapshotBuilder.settings(try proxyConfig(proxyYAML())).capture.passthroughIdleNanos == 3_600_000_000_000)
    }

    @Test("a valid section is read whole, and /config shows it")
    func valid() throws {
        let yaml = captureYAML("{ mark: 99, excludePorts: [ 22, 8443 ], excludeCIDRs: [ 169.254.169.254/32 ], includeCIDRs: [ \"fd00::/8\" ], excludeUIDs: [ 1337 ], sniffTimeout: 250ms, passthroughIdleTimeout: 2h }")
        let loaded = try withTree(["causeway.yaml": yaml]) { tree in try tree.load().get() }
        let proxy = loaded.proxy
        #expect(EffectiveConfig.json(loaded).contains("""
                "capture": {
                  "mark": 99,
                  "excludePorts": [
                    22,
                    8443
                  ],
                  "excludeCIDRs": [
                    "169.254.169.254/32"
                  ],
                  "includeCIDRs": [
                    "fd00::/8"
                  ],
                  "excludeUIDs": [
                    1337
                  ],
                  "sniffTimeoutMillis": 250,
                  "passthroughIdleTimeoutMillis": 7200000
                }
            """))
        var expected = CaptureConfig()
        expected.mark = 99
        expected.excludePorts = [22, 8443]
        expected.excludeCIDRs = [IPPrefix("169.254.169.254/32")!]
        expected.includeCIDRs = [IPPrefix("fd00::/8")!]
        expected.excludeUIDs = [1337]
        expected.sniffTimeoutNanos = 250_000_000
        expected.passthroughIdleTimeoutNanos = 7_200_000_000_000
        expected.configured = true
        #expect(proxy.capture == expected)
    }
}
