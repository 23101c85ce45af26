import CausewayMesh
import Testing
@testable import CausewayApp

/// The commands `CaptureApplier` would run, answered by the test: which tools are installed,
/// whether their `nat` table can be listed, whether a restore succeeds.
private final class FakeCommands {
    var missing: Set<String> = []
    var natUnavailable: Set<String> = []
    var failingRestore: Set<String> = []
    private(set) var calls: [(command: String, arguments: [String])] = []

    var commands: CaptureApplier.Commands {
        CaptureApplier.Commands(
            find: { [self] name in missing.contains(name) ? nil : "/usr/sbin/\(name)" },
            run: { [self] path, arguments, _ in
                let command = String(path.split(separator: "/").last ?? "")
                calls.append((command, arguments))
                if arguments == ["-t", "nat", "-S", "OUTPUT"] {
                    return natUnavailable.contains(command)
                        ? CommandRunner.Result(status: 3, output: "can't initialize ip6tables table `nat': Table does not exist")
                        : CommandRunner.Result(status: 0, output: "-P OUTPUT ACCEPT\n")
                }
                if command.hasSuffix("-restore") {
                    return CommandRunner.Result(status: failingRestore.contains(command) ? 1 : 0, output: failingRestore.contains(command) ? "line 3 failed" : "")
                }
                // Nothing of ours is installed: every -D and -S CHAIN fails.
                return CommandRunner.Result(status: 1, output: "")
            })
    }

    /// The calls that would change something: deletions and restores.
    var changes: [String] {
        calls.filter { $0.command.hasSuffix("-restore") || $0.arguments.contains("-D") || $0.arguments.contains("-F") || $0.arguments.contains("-X") }
            .map { ([$0.command] + $0.arguments).joined(separator: " ") }
    }
}

/// The rules of a Proxy with `capture: {}`, its sidecar listener on 127.0.0.1:15001, another
/// on [::1]:15006 when asked, and `spec.dns` on `dns` when given.
private func rules(ipv6Listener: Bool, dns: String? = "127.0.0.1:15053") throws -> CaptureRules {
    var yaml = proxyYAML("  capture: {}\n" + (dns.map { "  dns: { address: \"\($0)\", upstream: 198.18.0.53 }\n" } ?? ""))
    if ipv6Listener {
        yaml = yaml.replacingOccurrences(of: "    address: \"127.0.0.1:15001\"\n",
                                         with: "    address: \"127.0.0.1:15001\"\n  - { name: outbound6, role: sidecar, address: \"[::1]:15006\" }\n")
    }
    let proxy = try withTree(["causeway.yaml": yaml]) { tree in try tree.load().get().proxy }
    return try CaptureRules(proxy)
}

@Suite("causeway capture --apply: the tools of each family")
struct CaptureApplierTests {
    @Test("IPv6 rules without ip6tables are an error, before anything changes")
    func missingIP6Tables() throws {
        let fake = FakeCommands()
        fake.missing = ["ip6tables", "ip6tables-restore"]
        let applier = CaptureApplier(commands: fake.commands)
        let rules = try rules(ipv6Listener: true)
        do {
            _ = try applier.apply(rules)
            Issue.record("applied without ip6tables")
        } catch {
            #expect(error.description == "ip6tables is not installed, and the rules need it: IPv6 TCP -> [::1]:15006 (listener outbound6). Nothing was changed")
        }
        #expect(fake.changes == [])
    }

    @Test("an IPv6 DNS address needs ip6tables' nat table too")
    func ip6NatUnavailable() throws {
        let fake = FakeCommands()
        fake.natUnavailable = ["ip6tables"]
        let applier = CaptureApplier(commands: fake.commands)
        let rules = try rules(ipv6Listener: false, dns: "[::1]:15053")
        do {
            _ = try applier.apply(rules)
            Issue.record("applied without ip6tables' nat table")
        } catch {
            #expect(error.description.hasPrefix("ip6tables cannot use the nat table (can't initialize ip6tables table `nat': Table does not exist), and the rules need it: IPv6 DNS (UDP and TCP port 53) -> [::1]:15053"))
        }
        #expect(fake.changes == [])
    }

    @Test("without IPv6 rules a missing ip6tables is a note")
    func missingIP6TablesNotNeeded() throws {
        let fake = FakeCommands()
        fake.missing = ["ip6tables", "ip6tables-restore"]
        let report = try CaptureApplier(commands: fake.commands).apply(try rules(ipv6Listener: false))
        #expect(report.lines.contains("ip6tables is not installed: skipped (no IPv6 rules to install)"))
        #expect(report.lines.contains { $0.hasPrefix("iptables: installed ") })
        #expect(fake.changes.filter { $0.hasPrefix("iptables-restore") } == ["iptables-restore --noflush"])
    }

    @Test("a failed IPv6 commit takes the IPv4 rules out again")
    func allOrNothing() throws {
        let fake = FakeCommands()
        fake.failingRestore = ["ip6tables-restore"]
        #expect(throws: CaptureApplier.Failure.self) { try CaptureApplier(commands: fake.commands).apply(try rules(ipv6Listener: true)) }
        let changes = fake.changes
        let restored = try #require(changes.firstIndex(of: "iptables-restore --noflush"))
        #expect(changes[(restored + 1)...].contains("iptables -t nat -D OUTPUT -j CAUSEWAY_OUTPUT"))
    }

    @Test("--remove without ip6tables removes the IPv4 rules and says IPv6 was skipped")
    func removeWithoutIP6Tables() throws {
        let fake = FakeCommands()
        fake.missing = ["ip6tables", "ip6tables-restore"]
        let report = try CaptureApplier(commands: fake.commands).remove()
        #expect(report.lines == ["iptables: nothing of ours to remove", "ip6tables is not installed: skipped"])
    }
}
