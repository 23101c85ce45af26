import CausewayMesh
#if canImport(Glibc)
import Glibc
#endif

/// Installs and removes `CaptureRules` in the current network namespace with the system's
/// `iptables`/`ip6tables` (`causeway capture --apply`, `--remove`).
///
/// Removal deletes exactly what apply adds: every jump from `OUTPUT` to `CAUSEWAY_OUTPUT`,
/// then our chains (flushed first, then deleted, since they jump to each other); it is
/// idempotent. Apply removes first and then installs everything in one
/// `iptables-restore --noflush` commit, so applying twice leaves one copy, and a failed
/// commit leaves nothing of ours behind. IPv6 is handled when `ip6tables` is installed and
/// the kernel has its `nat` table; otherwise it is skipped with a note.
public struct CaptureApplier {
    /// What one run did, for the command's output.
    public struct Report: Sendable {
        public var lines: [String] = []
    }

    /// A command failed.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init() {}

    /// Removes any previous rules of ours, then installs `rules`.
    public func apply(_ rules: CaptureRules) throws(Failure) -> Report {
        var report = Report()
        for set in [rules.ipv4, rules.ipv6] {
            guard let tool = tool(for: set.family, report: &report) else {
                if !set.isEmpty, set.family == .ipv4 { throw Failure(description: "iptables is not installed") }
                continue
            }
            remove(tool, report: &report)
            guard !set.isEmpty else {
                report.lines.append("\(tool.command): no rules to install")
                continue
            }
            let result = run(tool.restore, ["--noflush"], input: set.restoreInput)
            guard result.status == 0 else {
                throw Failure(description: "\(tool.restore) --noflush failed (exit \(result.status)): \(Self.trimmed(result.output))")
            }
            report.lines.append("\(tool.command): installed \(set.rules.count) rules in \(set.chains.joined(separator: ", "))")
        }
        return report
    }

    /// Removes every rule and chain of ours (both families). Idempotent.
    public func remove() throws(Failure) -> Report {
        var report = Report()
        var found = false
        for family in [AddressFamily.ipv4, .ipv6] {
            guard let tool = tool(for: family, report: &report) else { continue }
            found = true
            remove(tool, report: &report)
        }
        guard found else { throw Failure(description: "iptables is not installed") }
        return report
    }

    // MARK: Commands

    private struct Tool {
        let command: String
        let restore: String
    }

    /// The family's tools, if installed and usable (the `nat` table can be listed).
    private func tool(for family: AddressFamily, report: inout Report) -> Tool? {
        let tool = family == .ipv4 ? Tool(command: "iptables", restore: "iptables-restore")
            : Tool(command: "ip6tables", restore: "ip6tables-restore")
        guard Self.find(tool.command) != nil, Self.find(tool.restore) != nil else {
            report.lines.append("\(tool.command): not installed, skipped")
            return nil
        }
        let probe = run(tool.command, ["-t", "nat", "-S", "OUTPUT"])
        guard probe.status == 0 else {
            report.lines.append("\(tool.command): nat table unavailable, skipped (\(Self.trimmed(probe.output)))")
            return nil
        }
        return tool
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
        guard let path = Self.find(command) else { return CommandRunner.Result(status: 127, output: "\(command): not found") }
        return CommandRunner.run(path, arguments, input: input)
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
