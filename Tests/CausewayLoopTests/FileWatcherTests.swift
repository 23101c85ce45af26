import Foundation
import Glibc
import XCTest
@testable import CausewayLoop

/// inotify on a real temp directory, driven by running the loop on the test's thread.
final class FileWatcherTests: XCTestCase {
    private var root = ""
    private var loop: EventLoop!
    private var changes: [FileWatcher.Change] = []
    private var changeTimes: [UInt64] = []

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "causeway-watch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        loop = try EventLoop()
        changes = []
        changeTimes = []
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// CLOCK_MONOTONIC, the loop's clock.
    private static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    private func path(_ name: String) -> String { root + "/" + name }

    private func makeWatcher(quietMillis: UInt64 = 100, maxDelayMillis: UInt64 = 1000, retryMillis: UInt64 = 1000) throws -> FileWatcher {
        try FileWatcher(loop: loop, quietNanos: quietMillis * 1_000_000, maxDelayNanos: maxDelayMillis * 1_000_000,
                        retryNanos: retryMillis * 1_000_000) { [unowned self] change in
            self.changes.append(change)
            self.changeTimes.append(self.loop.now)
        }
    }

    /// Runs the loop for `millis` milliseconds.
    private func pump(millis: Int) {
        let end = loop.now + UInt64(millis) * 1_000_000
        while loop.now < end { loop.runOnce(timeoutMillis: 5) }
    }

    /// Runs the loop until `count` changes arrived (or 3 s passed).
    private func pump(untilChanges count: Int) {
        let end = loop.now + 3_000_000_000
        while changes.count < count && loop.now < end { loop.runOnce(timeoutMillis: 5) }
    }

    private func write(_ name: String, _ text: String) {
        FileManager.default.createFile(atPath: path(name), contents: Data(text.utf8))
    }

    private func mkdir(_ name: String) throws {
        try FileManager.default.createDirectory(atPath: path(name), withIntermediateDirectories: true)
    }

    func testAWriteToAWatchedFileIsReportedOnce() throws {
        write("causeway.yaml", "a: 1\n")
        let watcher = try makeWatcher()
        watcher.watch(files: [path("causeway.yaml")], folders: [])
        write("causeway.yaml", "a: 2\n")
        pump(untilChanges: 1)
        pump(millis: 250)
        XCTAssertEqual(changes, [FileWatcher.Change(paths: [path("causeway.yaml")], overflow: false)])
    }

    func testARenameOverAWatchedFileIsReported() throws {
        write("key.pem", "old")
        let watcher = try makeWatcher()
        watcher.watch(files: [path("key.pem")], folders: [])
        write("key.pem.tmp-1", "new")
        XCTAssertEqual(rename(path("key.pem.tmp-1"), path("key.pem")), 0)
        pump(untilChanges: 1)
        XCTAssertEqual(changes.first?.paths, [path("key.pem")])
        // The file is a new inode now; the next replacement is seen as well.
        write("key.pem.tmp-2", "newer")
        XCTAssertEqual(rename(path("key.pem.tmp-2"), path("key.pem")), 0)
        pump(untilChanges: 2)
        XCTAssertEqual(changes.count, 2)
    }

    /// Kubernetes' atomic writer: a new timestamped directory, a `..data_tmp` symlink to
    /// it renamed over `..data`, the old directory removed. The visible names are symlinks
    /// through `..data` and never change themselves.
    func testAKubernetesDataSymlinkSwapIsReportedForFilesAndFolders() throws {
        for volume in ["secret", "configmap"] {
            try mkdir("\(volume)/..2026_01")
            write("\(volume)/..2026_01/tls.crt", "v1")
            write("\(volume)/..2026_01/slices.yaml", "v1")
            XCTAssertEqual(symlink("..2026_01", path("\(volume)/..data")), 0)
            XCTAssertEqual(symlink("..data/tls.crt", path("\(volume)/tls.crt")), 0)
            XCTAssertEqual(symlink("..data/slices.yaml", path("\(volume)/slices.yaml")), 0)
        }
        let watcher = try makeWatcher()
        watcher.watch(files: [path("secret/tls.crt")], folders: [path("configmap")])
        for volume in ["secret", "configmap"] {
            try mkdir("\(volume)/..2026_02")
            write("\(volume)/..2026_02/tls.crt", "v2")
            write("\(volume)/..2026_02/slices.yaml", "v2")
            XCTAssertEqual(symlink("..2026_02", path("\(volume)/..data_tmp")), 0)
            XCTAssertEqual(rename(path("\(volume)/..data_tmp"), path("\(volume)/..data")), 0)
            try FileManager.default.removeItem(atPath: path("\(volume)/..2026_01"))
        }
        pump(untilChanges: 1)
        pump(millis: 250)
        XCTAssertEqual(changes.count, 1)
        XCTAssertEqual(changes.first?.paths, [path("configmap"), path("secret/tls.crt")])
    }

    func testABurstOfFiftyWritesIsOneCallback() throws {
        try mkdir("slices")
        let watcher = try makeWatcher(quietMillis: 100)
        watcher.watch(files: [], folders: [path("slices")])
        let start = Self.monotonicNanos()
        var lastWrite: UInt64 = 0
        for i in 0..<50 {
            write("slices/s\(i % 5).yaml", "n: \(i)\n")
            lastWrite = Self.monotonicNanos()
            pump(millis: 2)
        }
        pump(untilChanges: 1)
        pump(millis: 300)
        XCTAssertEqual(changes, [FileWatcher.Change(paths: (0..<5).map { path("slices/s\($0).yaml") }, overflow: false)])
        // Reported after the quiet period that followed the last write, not before.
        XCTAssertGreaterThanOrEqual(changeTimes[0], lastWrite + 100_000_000)
        XCTAssertLessThan(changeTimes[0] - start, 1_000_000_000)
    }

    func testAWriterThatNeverPausesIsReportedWithinTheMaximumDelay() throws {
        write("causeway.yaml", "")
        let watcher = try makeWatcher(quietMillis: 100, maxDelayMillis: 300)
        watcher.watch(files: [path("causeway.yaml")], folders: [])
        let start = loop.now
        for i in 0..<45 {  // one write every ~20 ms for ~0.9 s: never 100 ms of quiet
            write("causeway.yaml", "n: \(i)\n")
            pump(millis: 20)
        }
        pump(millis: 400)
        XCTAssertGreaterThanOrEqual(changes.count, 2, "bursts are cut at the maximum delay")
        XCTAssertLessThanOrEqual(changes.count, 5)
        XCTAssertLessThan(changeTimes[0] - start, 400_000_000, "first report at most ~300 ms after the first write")
    }

    func testNamesThatDoNotMatterAreIgnored() throws {
        try mkdir("slices")
        try mkdir("conf")
        write("conf/causeway.yaml", "")
        let watcher = try makeWatcher()
        watcher.watch(files: [path("conf/causeway.yaml")], folders: [path("slices")])
        write("slices/notes.txt", "x")
        write("slices/.causeway.yaml.swp", "x")
        write("slices/backup.yaml~", "x")
        try mkdir("slices/nested.yaml")
        write("conf/other.yaml", "x")
        write("conf/causeway.yaml.tmp", "x")
        pump(millis: 400)
        XCTAssertEqual(changes, [], "unrelated names must not be reported")
        // The watcher is alive: a name that matters is reported.
        write("slices/new.yml", "x")
        pump(untilChanges: 1)
        XCTAssertEqual(changes.first?.paths, [path("slices/new.yml")])
    }

    func testAFolderReplacedByRenameIsWatchedAgain() throws {
        try mkdir("slices")
        try mkdir("slices.next")
        write("slices.next/a.yaml", "x")
        let watcher = try makeWatcher()
        watcher.watch(files: [], folders: [path("slices")])
        XCTAssertEqual(rename(path("slices"), path("slices.old")), 0)
        XCTAssertEqual(rename(path("slices.next"), path("slices")), 0)
        pump(untilChanges: 1)
        XCTAssertEqual(changes.first?.paths, [path("slices")])
        // Events in the old directory no longer count; those in the new one do.
        write("slices.old/stale.yaml", "x")
        pump(millis: 250)
        XCTAssertEqual(changes.count, 1)
        write("slices/b.yaml", "x")
        pump(untilChanges: 2)
        XCTAssertEqual(changes.count, 2)
    }

    func testAMissingFolderIsWatchedOnceItAppears() throws {
        var lines: [String] = []
        let watcher = try FileWatcher(loop: loop, quietNanos: 50_000_000, maxDelayNanos: 500_000_000, retryNanos: 50_000_000,
                                      log: { lines.append($0) }) { [unowned self] in self.changes.append($0) }
        watcher.watch(files: [], folders: [path("later/slices")])
        XCTAssertEqual(lines.count, 1, "a missing directory is logged once")
        pump(millis: 200)
        XCTAssertEqual(lines.count, 1, "and not again on every retry")
        try mkdir("later/slices")
        pump(untilChanges: 1)
        XCTAssertEqual(changes.first?.paths, [path("later/slices")])
        write("later/slices/a.yaml", "x")
        pump(untilChanges: 2)
        XCTAssertEqual(changes.count, 2)
    }

    func testAWatchSetChangeStopsReportingTheOldPaths() throws {
        try mkdir("a")
        try mkdir("b")
        let watcher = try makeWatcher()
        watcher.watch(files: [], folders: [path("a")])
        watcher.watch(files: [], folders: [path("b")])
        XCTAssertFalse(watcher.watchedDirectories.contains(path("a")))
        write("a/x.yaml", "x")
        pump(millis: 250)
        XCTAssertEqual(changes, [])
        write("b/x.yaml", "x")
        pump(untilChanges: 1)
        XCTAssertEqual(changes.first?.paths, [path("b/x.yaml")])
    }

    func testAQueueOverflowReportsThatAnythingMayHaveChanged() throws {
        let limitText = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8)) ?? ""
        try mkdir("slices")
        let watcher = try makeWatcher()
        watcher.watch(files: [], folders: [path("slices")])
        if let limit = Int(limitText.trimmingCharacters(in: .whitespacesAndNewlines)), limit <= 100_000 {
            // Overflow the kernel's queue for real. Alternating names: the kernel merges
            // identical consecutive events.
            for i in 0..<(limit + 100) {
                let fd = open(path("slices/\(i % 2).txt"), O_WRONLY | O_CREAT, 0o644)
                close(fd)
            }
        } else {
            // A queue too long to fill quickly (a tuned machine): the event the kernel would
            // send, handed to the same decoder.
            watcher.handle(wd: -1, mask: UInt32(IN_Q_OVERFLOW), name: "")
        }
        pump(untilChanges: 1)
        XCTAssertEqual(changes.first?.overflow, true)
    }

    func testCoalescerDeadlinesNeverPassTheMaximumDelay() {
        var c = BurstCoalescer(quietNanos: 100, maxDelayNanos: 250)
        XCTAssertNil(c.deadline)
        c.note(now: 1_000)
        XCTAssertEqual(c.deadline, 1_100)
        c.note(now: 1_080)
        XCTAssertEqual(c.deadline, 1_180)
        c.note(now: 1_200)
        XCTAssertEqual(c.deadline, 1_250, "capped at first + maxDelay")
        XCTAssertFalse(c.takeIfDue(now: 1_249))
        XCTAssertTrue(c.takeIfDue(now: 1_250))
        XCTAssertEqual(c.phase, .idle)
        XCTAssertFalse(c.takeIfDue(now: 2_000))
    }
}
