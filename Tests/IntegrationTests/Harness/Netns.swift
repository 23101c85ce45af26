import Foundation
import Glibc
import XCTest

/// Network namespaces a test creates (`ip netns`), joined by veth pairs with addresses from
/// 198.18.0.0/15 (RFC 2544's benchmarking range, never routed), with processes run inside
/// them (`ip netns exec`). Everything is removed in `teardown()`, which tests call from
/// `tearDown` whatever happened; namespaces left by a test process that crashed are swept
/// the first time a later process makes a lab.
///
/// Names are `cw-<pid>-<n>`: unique per process and per lab, and the pid says whether their
/// owner still runs.
final class NetnsLab {
    /// Process-wide: names and address blocks never repeat within one test run.
    nonisolated(unsafe) private static var nextNamespace = 0
    nonisolated(unsafe) private static var nextLink = 0
    nonisolated(unsafe) private static var swept = false

    private(set) var namespaces: [Netns] = []
    private var processes: [TestProcess] = []

    /// Skips the test (XCTSkip) unless it runs as root with `ip` and `iptables` installed.
    /// CI runs as root with both (see .ci/run), so there these tests always run.
    static func requireAvailable() throws {
        guard geteuid() == 0 else { throw XCTSkip("network namespace tests need root") }
        for tool in ["ip", "iptables", "iptables-restore"] where (try? TestProcess.resolve(tool)) == nil {
            throw XCTSkip("network namespace tests need \(tool) (apt-get install iproute2 iptables)")
        }
    }

    init() throws {
        try Self.requireAvailable()
        if !Self.swept {
            Self.swept = true
            Self.sweepStale()
        }
    }

    /// Deletes `cw-<pid>-*` namespaces whose process is gone (a crashed earlier run).
    private static func sweepStale() {
        guard let list = try? runCommand("ip", ["netns", "list"], timeout: 30) else { return }
        for line in list.stdoutText.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            let parts = name.split(separator: "-")
            guard parts.count == 3, parts[0] == "cw", let pid = Int32(parts[1]), pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno != ESRCH { continue }
            Netns.destroy(name)
        }
    }

    /// A new, empty namespace with its loopback up. `role` only helps reading logs.
    func namespace(_ role: String) throws -> Netns {
        let name = "cw-\(getpid())-\(Self.nextNamespace)"
        Self.nextNamespace += 1
        try check(runCommand("ip", ["netns", "add", name], timeout: 30), "ip netns add \(name)")
        let ns = Netns(name: name, role: role, lab: self)
        namespaces.append(ns)
        try ns.ip(["link", "set", "lo", "up"])
        return ns
    }

    /// A veth pair made by `link`.
    struct Link {
        /// The pair's number in this process: its /30 is the k-th of 198.18.0.0/15.
        let index: Int
        /// `a`'s address (`.1`) and interface.
        let a: String
        let aInterface: String
        /// `b`'s address (`.2`) and interface.
        let b: String
        let bInterface: String
    }

    /// A veth pair between `a` and `b`, addressed `198.18.<k>.1/30` in `a` and
    /// `198.18.<k>.2/30` in `b`, both up.
    @discardableResult
    func link(_ a: Netns, _ b: Netns) throws -> Link {
        let k = Self.nextLink
        Self.nextLink += 1
        precondition(k < 512, "198.18.0.0/15 holds 512 /24 blocks")
        let block = "198.\(18 + k / 256).\(k % 256)"
        let (ifA, ifB) = ("cw\(k)a", "cw\(k)b")
        try check(runCommand("ip", ["link", "add", ifA, "netns", a.name, "type", "veth", "peer", "name", ifB, "netns", b.name], timeout: 30),
                  "ip link add \(ifA)")
        try a.ip(["addr", "add", "\(block).1/30", "dev", ifA])
        try b.ip(["addr", "add", "\(block).2/30", "dev", ifB])
        try a.ip(["link", "set", ifA, "up"])
        try b.ip(["link", "set", ifB, "up"])
        return Link(index: k, a: "\(block).1", aInterface: ifA, b: "\(block).2", bInterface: ifB)
    }

    /// Starts a background process inside `ns`; it is killed at teardown if still running.
    func start(_ name: String, in ns: Netns, _ executable: String, _ arguments: [String], directory: URL? = nil) throws -> TestProcess {
        let process = try TestProcess("\(name)@\(ns.role)", executable: "ip",
                                      arguments: ["netns", "exec", ns.name, try TestProcess.resolve(executable)] + arguments,
                                      in: directory)
        processes.append(process)
        return process
    }

    /// Stops every process, kills whatever else runs in the namespaces, and deletes them
    /// (their veth pairs and /etc/netns files with them). Idempotent.
    func teardown() {
        for p in processes { p.stop() }
        processes.removeAll()
        for ns in namespaces { Netns.destroy(ns.name) }
        namespaces.removeAll()
    }

    deinit { teardown() }

    fileprivate func check(_ result: CommandResult, _ what: String) throws {
        guard result.status == 0 else { throw HarnessError("\(what) failed (exit \(result.status)): \(result.stderr)") }
    }
}

/// One network namespace of a `NetnsLab`.
final class Netns {
    let name: String
    /// What the test calls it ("pod", "remote"): for messages.
    let role: String
    private unowned let lab: NetnsLab

    fileprivate init(name: String, role: String, lab: NetnsLab) {
        self.name = name
        self.role = role
        self.lab = lab
    }

    /// Runs `executable` inside this namespace to completion.
    func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try runCommand("ip", ["netns", "exec", name, try TestProcess.resolve(executable)] + arguments, timeout: timeout)
    }

    /// `run`, failing the step when the command fails.
    @discardableResult
    func must(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        let result = try run(executable, arguments, timeout: timeout)
        guard result.status == 0 else {
            throw HarnessError("\(executable) \(arguments.joined(separator: " ")) in \(role) failed (exit \(result.status)):\n\(result.stdoutText)\n\(result.stderr)")
        }
        return result
    }

    /// `ip ARGS` in this namespace.
    func ip(_ arguments: [String]) throws {
        try lab.check(runCommand("ip", ["-n", name] + arguments, timeout: 30), "ip -n \(name) \(arguments.joined(separator: " "))")
    }

    /// Starts a background process in this namespace (stopped at the lab's teardown).
    func start(_ name: String, _ executable: String, _ arguments: [String], directory: URL? = nil) throws -> TestProcess {
        try lab.start(name, in: self, executable, arguments, directory: directory)
    }

    /// Writes `/etc/netns/<name>/resolv.conf`, which `ip netns exec` bind-mounts over
    /// /etc/resolv.conf for processes it starts here.
    func setResolvConf(_ text: String) throws {
        let dir = "/etc/netns/\(name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try text.write(toFile: dir + "/resolv.conf", atomically: true, encoding: .utf8)
    }

    /// True when something listens on TCP `port` in this namespace.
    func isListening(_ port: UInt16) -> Bool {
        guard let r = try? run("ss", ["-Hltn", "sport = :\(port)"], timeout: 10) else { return false }
        return r.status == 0 && !r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    }

    /// Waits until `port` listens here, or `process` exits.
    func waitListening(_ port: UInt16, process: TestProcess, timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if isListening(port) { return }
            if !ChildWait.isRunning(process.process) {
                throw HarnessError("\(process.name) exited (\(process.exitStatus ?? -1)) before listening on \(port):\n\(process.log)")
            }
            usleep(50_000)
        }
        throw HarnessError("\(process.name) did not listen on \(port) in \(role) within \(Int(timeout)) s:\n\(process.log)")
    }

    /// Kills every process left in namespace `name`, deletes it and its /etc/netns folder.
    static func destroy(_ name: String) {
        if let pids = try? runCommand("ip", ["netns", "pids", name], timeout: 10) {
            for pid in pids.stdoutText.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        _ = try? runCommand("ip", ["netns", "del", name], timeout: 30)
        try? FileManager.default.removeItem(atPath: "/etc/netns/\(name)")
    }
}
