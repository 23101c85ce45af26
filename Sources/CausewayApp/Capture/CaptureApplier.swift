import CausewayMesh
#if canImport(Glibc)
import Glibc
#endif

/// Installs and removes `CaptureRules` in the current network namespace with the system's
/// `iptables`/`ip6tables` (`causeway capture --apply`, `--remove`).
///
/// Removal deletes exactly what apply adds: every jump from `OUTPUT` to `CAUSEWAY_OUTPUT`,
/// then our chains (flushed first, then deleted, since they jump to each other); it is
/// idempotent. Apply first checks that every family with rules has its tools (installed, and
/// the kernel's `nat` table usable): a family the rules need but cannot be installed in is an
/// error before anything changes, since its traffic would bypass the sidecar (IPv6 TCP while
/// an IPv6 sidecar listener waits for it). A family without rules whose tools are missing is
/// skipped with a note. Then, per family, it removes any earlier copy and installs everything
/// in one `iptables-restore --noflush` commit: applying twice leaves one copy, and a failed
/// commit leaves nothing of ours behind (a family installed before it is removed again).
public struct CaptureApplier {
    /// What one run did, for the command's output.
    public struct Report: Sendable {
        public var lines: [String] = []
    }

    /// A command failed.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// How commands are found and run: the system's, or a test's.
    struct Commands {
        /// The absolute path of a command, or nil when it is not installed.
        var find: (String) -> String?
        /// Runs the executable at a path with arguments and standard input, to completion.
        var run: (String, [String], String) -> CommandRunner.Result

        static var system: Commands { Commands(find: CaptureApplier.find, run: { CommandRunner.run($0, $1, input: $2) }) }
    }

    private let commands: Commands

    public init() {
        self.init(commands: .system)
    }

    init(commands: Commands) {
        self.commands = commands
    }

    /// Removes any previous rules of ours, then installs `rules`.
    public func apply(_ rules: CaptureRules) throws(Failure) -> Report {
        var report = Report()
        var tools: [(CaptureRules.RuleSet, Tool)] = []
        for set in [rules.ipv4, rules.ipv6] {
            switch tool(for: set.family) {
            case .success(let tool):
                tools.append((set, tool))
            case .failure(let why):
                guard set.isEmpty else {
                    let needs = (rules.purposes[set.family] ?? []).joined(separator: "; ")
                    throw Failure(description: "\(why), and the rules need it: \(needs). Nothing was changed")
                }
                report.lines.append("\(why): skipped (no \(set.family == .ipv4 ? "IPv4" : "IPv6") rules to install)")
            }
        }
        var installed: [Tool] = []
        for (set, tool) in tools {
            remove(tool, report: &report)
            guard !set.isEmpty else {
                report.lines.append("\(tool.command): no rules to install")
                continue
            }
            let result = run(tool.restore, ["--noflush"], input: set.restoreInput)
            guard result.status == 0 else {
                // All or nothing: what an earlier family installed goes too.
                for earlier in installed { remove(earlier, report: &report) }
                throw Failure(description: "\(tool.restore) --noflush failed (exit \(result.status)): \(Self.trimmed(result.output))")
            }
            installed.append(tool)
            report.lines.append("\(tool.command): installed \(set.rules.count) rules in \(set.chains.joined(separator: ", "))")
        }
        return report
    }

    /// Removes every rule and chain of ours (both families). Idempotent.
    public func remove() throws(Failure) -> Report {
        var report = Report()
        var found = false
        for family in [AddressFamily.ipv4, .ipv6] {
            switch tool(for: family) {
            case .success(let tool):
                found = true
                remove(tool, report: &report)
            case .failure(let why):
                report.lines.append("\(why): skipped")
            }
        }
        guard found else { throw Failure(description: "iptables is not installed") }
        return report
    }

    // MARK: Commands

    private struct Tool {
        let command: String
        let restore: String
    }

    /// Why a family's tools cannot be used.
    private struct Unusable: Error, CustomStringConvertible {
        let description: String
    }

    /// The family's tools, if installed and usable (the `nat` table can be listed).
    private func tool(for family: AddressFamily) -> Result<Tool, Unusable> {
        let tool = family == .ipv4 ? Tool(command: "iptables", restore: "iptables-restore")
            : Tool(command: "ip6tables", restore: "ip6tables-restore")
        guard commands.find(tool.command) != nil, commands.find(tool.restore) != nil else {
            return .failure(Unusable(description: "\(tool.command) is not installed"))
        }
        let probe = run(tool.command, ["-t", "nat", "-S", "OUTPUT"])
        guard probe.status == 0 else {
            return .failure(Unusable(description: "\(tool.command) cannot use the nat table (\(Self.trimmed(probe.output)))"))
        }
        return .success(tool)
    }

    /// Deletes every jump to our chain from `OUTPUT`, then flushes and deletes our chains.
    private func remove(_ tool: Tool, report: inout Report) {
        var jumps = 0
        // Bounded: each pass deletes one copy; more than this many is not ours to fight.
        while jumps < 64, run(tool.command, ["-t", "nat", "-D"] + CaptureRules.jump).status == 0 { jumps += 1 }
        let present = CaptureRules.chains.filter { run(tool.command, ["-t", "nat", "-S", $0]).status == 0 }
        for chain in present { _ = run(tool.command, ["-t", "nat", "-F", chain]) }
        for chain in present { _ = run(tool.command, ["-t", "nat", "-X", chain]) }
        if jumps > 0 || !present.isEmpty {
            report.lines.append("\(tool.command): removed \(jumps) jump(s) from OUTPUT and chain(s) \(present.joined(separator: ", "))")
        } else {
            report.lines.append("\(tool.command): nothing of ours to remove")
        }
    }

    /// Runs `command` (found on PATH or in the sbin directories) to completion.
    private func run(_ command: String, _ arguments: [String], input: String = "") -> CommandRunner.Result {
        guard let path = commands.find(command) else { return CommandRunner.Result(status: 127, output: "\(command): not found") }
        return commands.run(path, arguments, input)
    }

    /// `text` without surrounding white space, on one line.
    static func trimmed(_ text: String) -> String {
        text.split(whereSeparator: { $0 == "\n" }).map { $0.trimmingPrefix(while: { $0 == " " }) }.joined(separator: "; ")
    }

    /// The absolute path of `command` on PATH or in the sbin directories (which a
    /// non-login PATH may lack).
    static func find(_ command: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for dir in dirs where access("\(dir)/\(command)", X_OK) == 0 {
            return "\(dir)/\(command)"
        }
        return nil
    }
}
