import Foundation
import Glibc

/// The Python peers in `Tests/IntegrationTests/Peers`: small scripts (raw frames, or the
/// `h2` package) for traffic no stock tool sends. Each prints its result as one JSON line.
enum PythonPeer {
    /// Absolute path of `Peers/<name>`.
    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers").appendingPathComponent(name).path
    }

    /// Runs `Peers/<name>` to completion and returns its last JSON line.
    static func run(_ name: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> PeerResult {
        let r = try runCommand("python3", ["-B", script(name)] + arguments, timeout: timeout)
        guard let line = r.stdoutText.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw HarnessError("\(name) \(arguments.joined(separator: " ")) printed no result (exit \(r.status)):\n\(r.stdoutText)\n\(r.stderr)")
        }
        return try PeerResult(String(line))
    }

    /// Starts `Peers/<name>` in the background; its output goes to the process's log.
    static func start(_ name: String, _ arguments: [String]) throws -> TestProcess {
        try TestProcess("py-\(name)", executable: "python3", arguments: ["-u", "-B", script(name)] + arguments)
    }

    /// The JSON lines a background peer printed so far.
    static func lines(of process: TestProcess) -> [PeerResult] {
        process.log.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap { try? PeerResult(String($0)) }
    }

    /// Waits until a background peer printed a JSON line for which `match` holds.
    static func wait(for process: TestProcess, timeout: TimeInterval, _ match: (PeerResult) -> Bool) throws -> PeerResult {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let hit = lines(of: process).first(where: match) { return hit }
            if !process.process.isRunning { break }
            usleep(50_000)
        }
        if let hit = lines(of: process).first(where: match) { return hit }
        throw HarnessError("\(process.name) printed no matching line within \(Int(timeout)) s:\n\(process.log)")
    }
}

/// One JSON object a peer printed.
struct PeerResult: CustomStringConvertible {
    let object: [String: Any]
    let text: String

    init(_ text: String) throws {
        self.text = text
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw HarnessError("not a JSON object: \(text)")
        }
        self.object = object
    }

    init(object: [String: Any]) {
        self.object = object
        text = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "\(object)"
    }

    subscript(key: String) -> Any? { object[key] is NSNull ? nil : object[key] }
    func string(_ key: String) -> String? { self[key] as? String }
    func int(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }
    func double(_ key: String) -> Double? { (self[key] as? NSNumber)?.doubleValue }
    func bool(_ key: String) -> Bool { (self[key] as? NSNumber)?.boolValue ?? false }
    func list(_ key: String) -> [PeerResult] { (self[key] as? [[String: Any]])?.map { PeerResult(object: $0) } ?? [] }
    func dict(_ key: String) -> [String: Any] { self[key] as? [String: Any] ?? [:] }

    var description: String { text }
}

/// CPU and memory of a process, from /proc.
enum ProcStats {
    /// utime + stime of `pid`, in seconds.
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        guard rest.count > 13, let utime = Double(rest[11]), let stime = Double(rest[12]) else { return nil }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU seconds `pid` uses during `seconds` of wall time (while `during` runs, if given).
    static func cpuUsed(pid: Int32, over seconds: Double) -> Double? {
        guard let before = cpuSeconds(pid: pid) else { return nil }
        usleep(UInt32(seconds * 1_000_000))
        guard let after = cpuSeconds(pid: pid) else { return nil }
        return after - before
    }
}

/// Samples a process's VmRSS every 50 ms on a thread of its own and keeps the peak.
/// With `killAbove`, SIGKILLs the process once its RSS passes that many bytes, so a test
/// that finds unbounded growth does not take the machine down with it.
final class PeakRSSSampler: @unchecked Sendable {
    private let lock = NSLock()
    private var peakBytes = 0
    private var running = true
    private var killedFlag = false
    private let pid: Int32

    init(pid: Int32, killAbove: Int? = nil) {
        self.pid = pid
        let thread = Thread { [self] in
            while isRunning {
                if let rss = TestProcess.residentBytes(pid: pid) {
                    lock.lock()
                    peakBytes = max(peakBytes, rss)
                    if let limit = killAbove, rss > limit, !killedFlag {
                        killedFlag = true
                        kill(pid, SIGKILL)
                    }
                    lock.unlock()
                }
                usleep(50_000)
            }
        }
        thread.start()
    }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    /// True if the sampler killed the process for passing `killAbove`.
    var killed: Bool { lock.lock(); defer { lock.unlock() }; return killedFlag }

    /// Stops sampling and returns the peak seen.
    func stop() -> Int {
        lock.lock(); running = false; lock.unlock()
        usleep(120_000)
        if let rss = TestProcess.residentBytes(pid: pid) { lock.lock(); peakBytes = max(peakBytes, rss); lock.unlock() }
        lock.lock(); defer { lock.unlock() }
        return peakBytes
    }
}
