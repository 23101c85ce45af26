import Foundation
import Glibc

/// A child process started by a test, with its output captured to a file, killed when the
/// test ends.
final class TestProcess {
    let process = Process()
    let logURL: URL
    let name: String

    /// Starts `executable` with `arguments`; stdout and stderr go to a temp log file.
    init(_ name: String, executable: String, arguments: [String], in directory: URL? = nil) throws {
        self.name = name
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("causeway-test-\(name)-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        process.executableURL = URL(fileURLWithPath: try Self.resolve(executable))
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        if let directory { process.currentDirectoryURL = directory }
        try ChildWait.launch(process)
        TestWatchdog.register(self)
    }

    /// The child's pid.
    var pid: Int32 { process.processIdentifier }

    /// Everything the child printed so far.
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// The last `lines` lines of the child's log.
    func logTail(lines: Int) -> String {
        log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Waits for the child to exit on its own; after `timeout` it is killed and an error
    /// names it (a hung child fails its test instead of hanging the suite).
    func waitForExit(timeout: TimeInterval = 120) throws {
        if ChildWait.wait(process, timeout: timeout) { return }
        kill(pid, SIGKILL)
        _ = ChildWait.wait(process, timeout: 10)
        throw HarnessError("\(name) did not exit within \(Int(timeout)) s; killed. Log tail:\n\(logTail(lines: 20))")
    }

    /// The exit status once the child exited (as `Process.terminationStatus`, or as reaped
    /// here when Foundation missed the exit).
    var exitStatus: Int32? { ChildWait.status(of: process) }

    /// SIGTERM, then SIGKILL if it lingers. Never waits unboundedly: Foundation's
    /// `waitUntilExit` can miss a child's exit on Linux and hang forever.
    func stop() {
        guard ChildWait.isRunning(process) else { return }
        process.terminate()
        if ChildWait.wait(process, timeout: 5) { return }
        kill(pid, SIGKILL)
        _ = ChildWait.wait(process, timeout: 10)
    }

    deinit {
        stop()
        TestWatchdog.unregister(self)
    }

    /// Resident set size in bytes, from /proc.
    func residentBytes() -> Int? { Self.residentBytes(pid: pid) }

    /// Resident set size of `pid` in bytes.
    static func residentBytes(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    static func resolve(_ executable: String) throws -> String {
        if executable.hasPrefix("/") { return executable }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        // Debian puts nghttpd in /usr/sbin, which a non-login PATH may lack.
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        for dir in dirs {
            let path = "\(dir)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw HarnessError("\(executable) not found on PATH; install the nghttp2-client, nghttp2-server and curl packages (see .ci/run)")
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The result of running a command to completion.
struct CommandResult {
    var status: Int32
    var stdout: Data
    var stderr: String
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs a command to completion with a time limit, capturing its output.
func runCommand(_ executable: String, _ arguments: [String], timeout: TimeInterval = 120) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try TestProcess.resolve(executable))
    process.arguments = arguments
    let dir = FileManager.default.temporaryDirectory
    let outURL = dir.appendingPathComponent("causeway-cmd-\(UUID().uuidString).out")
    let errURL = dir.appendingPathComponent("causeway-cmd-\(UUID().uuidString).err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    try ChildWait.launch(process)
    if !ChildWait.wait(process, timeout: timeout) {
        process.terminate()
        if !ChildWait.wait(process, timeout: 5) {
            kill(process.processIdentifier, SIGKILL)
            _ = ChildWait.wait(process, timeout: 10)
        }
        throw HarnessError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s")
    }
    return CommandResult(
        status: ChildWait.status(of: process) ?? -1,
        stdout: (try? Data(contentsOf: outURL)) ?? Data(),
        stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    )
}

/// Waiting for children without Foundation's `Process.waitUntilExit`, which on Linux can
/// miss an exit and block forever (swift-corelibs-foundation's monitor thread): a child
/// counts as exited when Foundation says so, or when /proc shows it gone or a zombie;
/// a zombie Foundation has not reaped within a second is reaped here.
enum ChildWait {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var reaped: [Int32: Int32] = [:]

    private static let launchLock = NSLock()

    /// Starts `process`, one launch at a time in this test process: Foundation's
    /// `Process.run` crashed once (SIGSEGV in memcpy) with launches racing on several
    /// threads (a background traffic thread and the test's own).
    static func launch(_ process: Process) throws {
        try launchLock.withLock { try process.run() }
    }

    /// True while the child runs (neither exited per Foundation nor a zombie).
    static func isRunning(_ process: Process) -> Bool {
        guard process.isRunning else { return false }
        let pid = process.processIdentifier
        if lock.withLock({ reaped[pid] != nil }) { return false }
        return !isZombieOrGone(pid)
    }

    /// Polls until the child exited, up to `timeout`; true if it did.
    static func wait(_ process: Process, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var zombieSince: Date?
        while Date() < deadline {
            guard process.isRunning else { return true }
            let pid = process.processIdentifier
            if lock.withLock({ reaped[pid] != nil }) { return true }
            if isZombieOrGone(pid) {
                let since = zombieSince ?? Date()
                zombieSince = since
                // Foundation had a second to reap it and did not: do it here.
                if Date().timeIntervalSince(since) > 1 {
                    var status: Int32 = 0
                    if waitpid(pid, &status, WNOHANG) == pid {
                        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                        lock.withLock { reaped[pid] = code }
                    }
                    return true
                }
            }
            usleep(10_000)
        }
        return !process.isRunning
    }

    /// The exit status, once exited.
    static func status(of process: Process) -> Int32? {
        if let code = lock.withLock({ reaped[process.processIdentifier] }) { return code }
        return process.isRunning ? nil : process.terminationStatus
    }

    private static func isZombieOrGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        // "pid (comm) S ...": the state follows the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return false }
        let rest = stat[stat.index(after: close)...].drop { $0 == " " }
        return rest.first == "Z" || rest.first == "X"
    }
}
