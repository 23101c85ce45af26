import Foundation
import Glibc
import XCTest

/// Turns a hung integration test into a failure with a name instead of a CI run that ends
/// at its time limit with nothing said (XCTest on Linux has no per-test time limit, and its
/// stdout is block-buffered into a pipe, so the last lines before a hang are lost).
///
/// When a test has run longer than `limit`, the watchdog writes the test's name and the
/// children it started to stderr (unbuffered) and kills those children: every wait on a
/// child (its exit, its output, a connection to it) then ends and the test fails on its
/// own. A test still running `grace` later cannot be unstuck: the process exits.
final class TestWatchdog: NSObject, XCTestObservation, @unchecked Sendable {
    /// Seconds a test may run; `CAUSEWAY_TEST_TIME_LIMIT` overrides (to check the watchdog).
    static let limit: TimeInterval = ProcessInfo.processInfo.environment["CAUSEWAY_TEST_TIME_LIMIT"].flatMap(TimeInterval.init) ?? 240
    static let grace: TimeInterval = 90

    private static let shared = TestWatchdog()
    private let lock = NSLock()
    private var current: (name: String, started: Date, killed: Bool)?
    private var children: [ObjectIdentifier: Weak] = [:]

    private struct Weak { weak var process: TestProcess? }

    /// Installs the watchdog once (first use from the harness). The test running then is
    /// timed from this moment.
    static func install() { _ = installed }

    private static let installed: Void = {
        XCTestObservationCenter.shared.addTestObserver(shared)
        shared.lock.withLock { shared.current = ("(the test that started the first child)", Date(), false) }
        let thread = Thread { shared.watch() }
        thread.name = "test-watchdog"
        thread.start()
    }()

    /// Remembers a child process so a hung test's children can be killed.
    static func register(_ process: TestProcess) {
        install()
        shared.lock.withLock { shared.children[ObjectIdentifier(process)] = Weak(process: process) }
    }

    static func unregister(_ process: TestProcess) {
        shared.lock.withLock { _ = shared.children.removeValue(forKey: ObjectIdentifier(process)) }
    }

    func testCaseWillStart(_ testCase: XCTestCase) {
        lock.withLock { current = (testCase.name, Date(), false) }
    }

    func testCaseDidFinish(_ testCase: XCTestCase) {
        lock.withLock { current = nil }
    }

    private func watch() {
        while true {
            sleep(1)
            let (expired, victims) = lock.withLock { () -> ((String, TimeInterval, Bool)?, [TestProcess]) in
                guard let c = current else { return (nil, []) }
                let elapsed = Date().timeIntervalSince(c.started)
                guard elapsed > Self.limit else { return (nil, []) }
                if c.killed { return ((c.name, elapsed, true), []) }
                current?.killed = true
                return ((c.name, elapsed, false), children.values.compactMap(\.process))
            }
            guard let (name, elapsed, alreadyKilled) = expired else { continue }
            if !alreadyKilled {
                var text = "\nWATCHDOG: \(name) has run \(Int(elapsed)) s (limit \(Int(Self.limit)) s); killing its children:\n"
                for child in victims {
                    text += "  \(child.name) pid \(child.pid), log tail:\n\(child.logTail(lines: 15))\n"
                    Glibc.kill(child.pid, SIGKILL)
                }
                Self.say(text)
            } else if elapsed > Self.limit + Self.grace {
                Self.say("\nWATCHDOG: \(name) is still running \(Int(elapsed)) s after it started; exiting\n")
                _exit(70)
            }
        }
    }

    /// Writes to stderr (fd 2) directly: unbuffered, and safe from any thread.
    private static func say(_ text: String) {
        var text = text
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
