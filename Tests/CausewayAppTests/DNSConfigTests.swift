import CausewayDNS
import Foundation
import Testing
@testable import CausewayApp

/// `spec.dns`: presence turns the DNS server on, defaults, the upstream (an address or a
/// resolv.conf), and refusals with file, line, column and field.
@Suite("Proxy DNS settings")
struct DNSConfigTests {
    @Test("absent: no DNS server")
    func absent() throws {
        let config = try withTree(["causeway.yaml": proxyYAML()]) { try $0.load().get() }
        #expect(config.proxy.dns == nil)
    }

    @Test("defaults, with the upstream read from a resolv.conf beside the config")
    func defaults() throws {
        let config = try withTree([
            "causeway.yaml": proxyYAML("  dns: { upstream: etc/resolv.conf }\n"),
            "etc/resolv.conf": "# generated\nsearch production.svc.cluster.local svc.cluster.local\noptions ndots:5\nnameserver 10.96.0.10 ; kube-dns\nnameserver 10.96.0.11\n",
        ]) { tree in (try tree.load().get(), tree.root) }
        let dns = try #require(config.0.proxy.dns)
        #expect(dns.address == DNSConfig.defaultAddress)
        #expect(dns.address.description == "127.0.0.1:15053")
        #expect(dns.virtualIPs.description == "240.240.0.0/16")
        #expect(dns.virtualIPv6s == nil)
        #expect(dns.upstream.address.description == "10.96.0.10:53")
        #expect(dns.upstream.resolvConf == config.1 + "/etc/resolv.conf")
        #expect(dns.upstreamTimeoutNanos == 2_000_000_000)
    }

    @Test("dns: {} reads /etc/resolv.conf")
    func systemResolvConf() throws {
        let outcome = try withTree(["causeway.yaml": proxyYAML("  dns: {}\n")]) { $0.load() }
        switch (outcome, ResolvConf.firstNameserver(path: "/etc/resolv.conf", display: "/etc/resolv.conf")) {
        case (.success(let config), .success(let address)):
            #expect(config.proxy.dns?.upstream == DNSUpstream(address: address, resolvConf: "/etc/resolv.conf"))
        case (.failure(let errors), .failure(let problem)):
            #expect(errors.problems.map(\.description) == [
                "causeway.yaml:11:8: spec.dns.upstream: \(problem.message) (spec.dns.upstream defaults to /etc/resolv.conf; set it to a resolver's address)",
            ])
        default:
            Issue.record("the load and /etc/resolv.conf disagree: \(outcome)")
        }
    }

    @Test("every field")
    func everyField() throws {
        let config = try withTree(["causeway.yaml": proxyYAML("""
          dns:
            address: "[::1]:5353"
            virtualIPs: 10.250.0.0/20
            virtualIPv6s: fd00:ca05::/48
            upstream: "127.0.0.53"
            upstreamTimeout: 500ms

        """)]) { try $0.load().get() }
        let dns = try #require(config.proxy.dns)
        #expect(dns.address.description == "[::1]:5353")
        #expect(dns.virtualIPs.description == "10.250.0.0/20")
        #expect(dns.virtualIPv6s?.description == "fd00:ca05::/48")
        #expect(dns.upstream == DNSUpstream(address: SocketAddressSpec("127.0.0.53:53")!, resolvConf: nil))
        #expect(dns.upstreamTimeoutNanos == 500_000_000)
        #expect(EffectiveConfig.json(config).contains("""
              "dns": {
                "address": "[::1]:5353",
                "virtualIPs": "10.250.0.0/20",
                "virtualIPv6s": "fd00:ca05::/48",
                "upstream": "127.0.0.53:53",
                "upstreamResolvConf": null,
                "upstreamTimeoutMillis": 500
              },
            """))
        for (written, expected) in [("\"10.0.0.1:5300\"", "10.0.0.1:5300"), ("\"::1\"", "[::1]:53"), ("\"[fd00::53]:53\"", "[fd00::53]:53")] {
            let c = try withTree(["causeway.yaml": proxyYAML("  dns: { upstream: \(written) }\n")]) { try $0.load().get() }
            #expect(c.proxy.dns?.upstream.address.description == expected)
        }
    }

    @Test("resolv.conf parsing")
    func resolvConf() {
        #expect(ResolvConf.firstNameserver(in: "nameserver 1.1.1.1", display: "r") == .success(SocketAddressSpec("1.1.1.1:53")!))
        #expect(ResolvConf.firstNameserver(in: "  # nameserver 9.9.9.9\n;x\nnameserver\tfd00::53\n", display: "r")
            == .success(SocketAddressSpec("[fd00::53]:53")!))
        #expect(ResolvConf.firstNameserver(in: "search a b\n", display: "r") == .failure(ResolvConfProblem(message: "r names no nameserver")))
        #expect(ResolvConf.firstNameserver(in: "nameserver\n", display: "r")
            == .failure(ResolvConfProblem(message: "r: a nameserver line has no address")))
        #expect(ResolvConf.firstNameserver(in: "nameserver fe80::1%eth0\n", display: "r")
            == .failure(ResolvConfProblem(message: "r: nameserver \"fe80::1%eth0\" is not an IP address (scoped IPv6 addresses are not supported)")))
        #expect(ResolvConf.firstNameserver(in: "nameservers 1.1.1.1\nnameserver 8.8.8.8", display: "r") == .success(SocketAddressSpec("8.8.8.8:53")!))
    }

    static let cases: [ErrorCase] = [
        ErrorCase("not a mapping", config: proxyYAML("  dns: true\n"),
                  ["causeway.yaml:11:8: spec.dns: expected a mapping, got the boolean true; write dns: {} for every default"]),
        ErrorCase("unknown field", config: proxyYAML("  dns: { upstream: 10.0.0.1, virtualIP: 10.0.0.0/8 }\n"),
                  ["causeway.yaml:11:30: spec.dns.virtualIP: unknown field \"virtualIP\" (did you mean \"virtualIPs\"?)"]),
        ErrorCase("address with a name", config: proxyYAML("  dns: { upstream: 10.0.0.1, address: \"localhost:53\" }\n"),
                  ["causeway.yaml:11:39: spec.dns.address: host \"localhost\" in \"localhost:53\" must be an IP address such as 127.0.0.1, not a name"]),
        ErrorCase("address taken by a listener", config: proxyYAML("  dns: { upstream: 10.0.0.1, address: \"127.0.0.1:15001\" }\n"),
                  ["causeway.yaml:11:39: spec.dns.address: address 127.0.0.1:15001 is already used by spec.listeners[0]"]),
        ErrorCase("address overlapping the admin address", config: proxyYAML("  dns: { upstream: 10.0.0.1, address: \"0.0.0.0:15000\" }\n"),
                  ["causeway.yaml:11:39: spec.dns.address: address 0.0.0.0:15000 overlaps 127.0.0.1:15000 of spec.admin.address"]),
        ErrorCase("host bits set", config: proxyYAML("  dns: { upstream: 10.0.0.1, virtualIPs: 240.240.1.0/16 }\n"),
                  ["causeway.yaml:11:42: spec.dns.virtualIPs: \"240.240.1.0/16\" has host bits set; write 240.240.0.0/16"]),
        ErrorCase("range too small", config: proxyYAML("  dns: { upstream: 10.0.0.1, virtualIPs: 240.240.0.0/31 }\n"),
                  ["causeway.yaml:11:42: spec.dns.virtualIPs: prefix length /31 in \"240.240.0.0/31\" is out of range: must be between /8 and /30"]),
        ErrorCase("IPv6 range in virtualIPs", config: proxyYAML("  dns: { upstream: 10.0.0.1, virtualIPs: \"fd00::/64\" }\n"),
                  ["causeway.yaml:11:42: spec.dns.virtualIPs: fd00::/64 is an IPv6 range; virtualIPs takes an IPv4 range, IPv6 goes in virtualIPv6s"]),
        ErrorCase("IPv4 range in virtualIPv6s", config: proxyYAML("  dns: { upstream: 10.0.0.1, virtualIPv6s: 10.0.0.0/8 }\n"),
                  ["causeway.yaml:11:44: spec.dns.virtualIPv6s: 10.0.0.0/8 is an IPv4 range; virtualIPv6s takes an IPv6 range, IPv4 goes in virtualIPs"]),
        ErrorCase("missing resolv.conf", config: proxyYAML("  dns: { upstream: missing/resolv.conf }\n"),
                  ["causeway.yaml:11:20: spec.dns.upstream: file missing/resolv.conf does not exist"]),
        ErrorCase("bad address", config: proxyYAML("  dns: { upstream: \"10.0.0.300\" }\n"),
                  ["causeway.yaml:11:20: spec.dns.upstream: \"10.0.0.300\" is neither an IP address (with an optional port) nor the path of a resolv.conf file"]),
        ErrorCase("upstream port 0", config: proxyYAML("  dns: { upstream: \"10.0.0.1:0\" }\n"),
                  ["causeway.yaml:11:20: spec.dns.upstream: the upstream resolver needs a port other than 0"]),
        ErrorCase("forwarding to itself", config: proxyYAML("  dns: { address: \"127.0.0.1:5353\", upstream: \"127.0.0.1:5353\" }\n"),
                  ["causeway.yaml:11:47: spec.dns.upstream: the upstream resolver 127.0.0.1:5353 is this DNS server's own address: questions would be forwarded to itself"]),
        ErrorCase("forwarding to itself on the wildcard", config: proxyYAML("  dns: { address: \"0.0.0.0:5353\", upstream: \"127.0.0.1:5353\" }\n"),
                  ["causeway.yaml:11:45: spec.dns.upstream: the upstream resolver 127.0.0.1:5353 is an address of this host, where this DNS server listens on 0.0.0.0:5353 too: questions would be forwarded to itself"]),
        ErrorCase("forwarding to itself on the IPv6 wildcard", config: proxyYAML("  dns: { address: \"[::]:5353\", upstream: \"[::1]:5353\" }\n"),
                  ["causeway.yaml:11:42: spec.dns.upstream: the upstream resolver [::1]:5353 is an address of this host, where this DNS server listens on [::]:5353 too: questions would be forwarded to itself"]),
        ErrorCase("forwarding to itself through the unspecified address", config: proxyYAML("  dns: { address: \"127.0.0.1:53\", upstream: \"0.0.0.0\" }\n"),
                  ["causeway.yaml:11:45: spec.dns.upstream: the upstream resolver 0.0.0.0:53 is an address of this host, where this DNS server listens on 127.0.0.1:53 too: questions would be forwarded to itself"]),
        ErrorCase("forwarding to itself through resolv.conf", [
            "causeway.yaml": proxyYAML("  dns: { address: \"0.0.0.0:53\", upstream: etc/resolv.conf }\n"),
            "etc/resolv.conf": "nameserver 127.0.0.53\n",
        ], ["causeway.yaml:11:43: spec.dns.upstream: the upstream resolver 127.0.0.53:53 (the first nameserver of etc/resolv.conf) is an address of this host, where this DNS server listens on 0.0.0.0:53 too: questions would be forwarded to itself; set spec.dns.upstream to the address of a resolver that is not this server"]),
        ErrorCase("timeout out of range", config: proxyYAML("  dns: { upstream: 10.0.0.1, upstreamTimeout: 1m }\n"),
                  ["causeway.yaml:11:47: spec.dns.upstreamTimeout: 1m is out of range: must be between 100ms and 30s"]),
        ErrorCase("several problems at once", config: proxyYAML("  dns: { address: \"127.0.0.1\", virtualIPs: nope, upstream: \"10.0.0.1:99999\" }\n"),
                  [
                      "causeway.yaml:11:19: spec.dns.address: \"127.0.0.1\" needs a port, e.g. \"127.0.0.1:15001\"",
                      "causeway.yaml:11:44: spec.dns.virtualIPs: \"nope\" is not a CIDR range such as 240.240.0.0/16",
                      "causeway.yaml:11:60: spec.dns.upstream: \"10.0.0.1:99999\" is neither an IP address (with an optional port) nor the path of a resolv.conf file",
                  ]),
    ]

    @Test("an upstream that is this server itself: same port, and its address or, on a wildcard, this host's")
    func forwardsToItself() throws {
        func check(_ upstream: String, _ address: String, local: Set<[UInt8]> = []) -> Bool {
            DNSConfig.forwardsToItself(upstream: SocketAddressSpec(upstream)!, address: SocketAddressSpec(address)!, localAddresses: { local })
        }
        let podIP: Set<[UInt8]> = [[10, 1, 2, 3], DNSHostAddresses.bytes(ofLiteral: "fd00::5")!]
        #expect(check("127.0.0.1:53", "127.0.0.1:53"))
        #expect(check("10.1.2.3:53", "10.1.2.3:53"))
        #expect(check("127.0.0.1:53", "0.0.0.0:53"))
        #expect(check("127.9.9.9:53", "0.0.0.0:53"))
        #expect(check("10.1.2.3:53", "0.0.0.0:53", local: podIP))
        #expect(check("[::ffff:10.1.2.3]:53", "0.0.0.0:53", local: podIP))
        #expect(check("[::ffff:127.0.0.1]:53", "0.0.0.0:53"))
        #expect(check("[::1]:53", "[::]:53"))
        #expect(check("[fd00::5]:53", "[::]:53", local: podIP))
        #expect(check("0.0.0.0:53", "127.0.0.1:53"))
        #expect(check("0.0.0.0:53", "0.0.0.0:53"))
        #expect(check("[::]:53", "[::1]:53"))
        // Not itself: another port, another host, a loopback or local address the server
        // does not listen on, or the other family of a wildcard ([::] takes IPv6 only).
        #expect(!check("127.0.0.1:5353", "0.0.0.0:53"))
        #expect(!check("10.1.2.4:53", "0.0.0.0:53", local: podIP))
        #expect(!check("10.1.2.3:53", "0.0.0.0:53"))
        #expect(!check("127.0.0.2:53", "127.0.0.1:53"))
        #expect(!check("10.1.2.3:53", "127.0.0.1:53", local: podIP))
        #expect(!check("127.0.0.1:53", "10.1.2.3:53", local: podIP))
        #expect(!check("127.0.0.1:53", "[::]:53"))
        #expect(!check("[::1]:53", "0.0.0.0:53"))
    }

    @Test("this host's addresses: loopback and every interface's, IPv4-mapped ones as IPv4")
    func hostAddresses() throws {
        let local = DNSHostAddresses.current()
        #expect(local.contains([127, 0, 0, 1]))
        #expect(DNSHostAddresses.normalized([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]) == [10, 0, 0, 1])
        #expect(DNSHostAddresses.bytes(ofLiteral: "::ffff:10.0.0.1") == [10, 0, 0, 1])
        #expect(DNSHostAddresses.bytes(ofLiteral: "::1")?.count == 16)
        #expect(DNSHostAddresses.isLoopback(DNSHostAddresses.bytes(ofLiteral: "::1")!))
        #expect(!DNSHostAddresses.isLoopback(DNSHostAddresses.bytes(ofLiteral: "::2")!))
        #expect(!DNSHostAddresses.isLoopback([10, 0, 0, 1]))
        // An interface's own address (when this host has one besides loopback) is refused as
        // the upstream of a server on the wildcard, with file, line and field.
        guard let ip = local.first(where: { $0.count == 4 && $0[0] != 127 }) else { return }
        let text = ip.map(String.init).joined(separator: ".")
        let problems = try withTree(["causeway.yaml": proxyYAML("  dns: { address: \"0.0.0.0:5353\", upstream: \"\(text):5353\" }\n")]) {
            $0.problems()
        }
        #expect(problems == ["causeway.yaml:11:45: spec.dns.upstream: the upstream resolver \(text):5353 is an address of this host, where this DNS server listens on 0.0.0.0:5353 too: questions would be forwarded to itself"])
    }

    @Test("refusals", arguments: cases)
    func refusals(_ errorCase: ErrorCase) throws { try check(errorCase) }
}
