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
        try process.run()
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
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        guard process.isRunning else { process.waitUntilExit(); return }
        kill(pid, SIGKILL)
        process.waitUntilExit()
        throw HarnessError("\(name) did not exit within \(Int(timeout)) s; killed. Log tail:\n\(logTail(lines: 20))")
    }

    /// SIGTERM, then SIGKILL if it lingers.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
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
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw HarnessError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s")
    }
    return CommandResult(
        status: process.terminationStatus,
        stdout: (try? Data(contentsOf: outURL)) ?? Data(),
        stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    )
}
