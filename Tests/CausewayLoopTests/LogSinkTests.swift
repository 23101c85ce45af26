import Foundation
import Glibc
import XCTest
@testable import CausewayLoop

final class LogSinkTests: XCTestCase {
    /// Sinks in tests never wake on a timer, so a lost eventfd wake-up shows as a timeout.
    private func makeSink(_ capture: PipeCapture) throws -> LogSink {
        try LogSink(fd: capture.writeFD, threadName: "test-log", idleWaitMillis: -1)
    }

    func testLinesArriveInOrderEscapedAndWhole() throws {
        let capture = PipeCapture()
        capture.startReading()
        let sink = try makeSink(capture)
        let log = sink.producer(name: "worker 0")
        var expected: [String] = []
        for i in 0..<500 {
            if i % 7 == 0 {
                log.emit("peer sent \"\(i)\"\nforged line\u{1B}")
                expected.append(#"causeway[worker 0]: peer sent "\#(i)"\nforged line\x1b"#)
            } else {
                log.emit("line \(i)")
                expected.append("causeway[worker 0]: line \(i)")
            }
        }
        // No flush: the eventfd wake-ups alone must deliver everything.
        XCTAssertEqual(capture.waitForLines(expected.count), expected)
        XCTAssertTrue(sink.shutdown())
        XCTAssertEqual(capture.finish(), expected)
        XCTAssertEqual(sink.droppedLines, 0)
    }

    /// One line at a time, each waited for: every line finds the writer asleep or about to
    /// sleep, which is where a lost wake-up would strand it (the sink has no idle timer).
    func testEveryLineWakesASleepingWriter() throws {
        let capture = PipeCapture()
        capture.startReading()
        let sink = try makeSink(capture)
        let log = sink.producer(name: "w")
        var expectedBytes = 0
        for i in 0..<300 {
            log.emit("\(i)")
            expectedBytes += "causeway[w]: \(i)\n".utf8.count
            let deadline = LogClock.monotonicNanos() + 5_000_000_000
            while capture.rawBytes.count < expectedBytes && LogClock.monotonicNanos() < deadline {
                // Vary the timing so the next line lands at different points of the
                // writer's way to sleep.
                if i % 3 == 0 { sched_yield() } else { usleep(UInt32(i % 50)) }
            }
            XCTAssertEqual(capture.rawBytes.count, expectedBytes, "line \(i) was not delivered")
        }
        sink.shutdown()
        XCTAssertEqual(capture.finish(), (0..<300).map { "causeway[w]: \($0)" })
    }

    func testUnnamedProducerUsesThePlainPrefixAndBytesMessagesAreEscaped() throws {
        let capture = PipeCapture()
        capture.startReading()
        let sink = try makeSink(capture)
        let log = sink.producer(name: "")
        log.emit("starting")
        let raw: [UInt8] = [0x73, 0x6E, 0x69, 0xFF, 0x0A]
        raw.withUnsafeBytes { log.emit(bytes: $0) }
        XCTAssertTrue(sink.flush(timeoutNanos: 10_000_000_000))
        sink.shutdown()
        XCTAssertEqual(capture.finish(), ["causeway: starting", #"causeway: sni\xff\n"#])
    }

    /// The writer is stuck on a pipe nobody reads; emitting must still return, dropping and
    /// counting what does not fit. Every line either arrives whole or is counted.
    func testFullRingDropsAndCountsInsteadOfBlocking() throws {
        let capture = PipeCapture()  // Not reading yet: the pipe fills and `writev` blocks.
        let sink = try makeSink(capture)
        let log = sink.producer(name: "worker 1", ringBytes: 4096)
        let padding = String(repeating: "x", count: 100)
        let total = 5000  // About 600 KB: far more than the pipe (64 KiB) and ring (4 KiB).
        for i in 0..<total { log.emit("line \(i) \(padding)") }
        XCTAssertGreaterThan(log.droppedLines, 0)
        XCTAssertEqual(sink.droppedLines, log.droppedLines)
        XCTAssertEqual(sink.producerStats(), [LogProducerStats(name: "worker 1", droppedLines: log.droppedLines, suppressedLines: 0)])

        capture.startReading()
        XCTAssertTrue(sink.flush(timeoutNanos: 10_000_000_000))
        XCTAssertTrue(sink.shutdown())
        let lines = capture.finish()
        XCTAssertEqual(UInt64(lines.count) + log.droppedLines, UInt64(total))
        var previous = -1
        let prefix = "causeway[worker 1]: line "
        for line in lines {
            let fields = line.hasPrefix(prefix) ? line.dropFirst(prefix.count).split(separator: " ") : []
            XCTAssertEqual(fields.count, 2, "a torn line: \(line)")
            guard fields.count == 2, let n = Int(fields[0]) else { continue }
            XCTAssertEqual(String(fields[1]), padding)
            XCTAssertGreaterThan(n, previous, "lines out of order")
            previous = n
        }
    }

    func testRateLimitedLinesReportTheSuppressedCount() throws {
        let capture = PipeCapture()
        capture.startReading()
        let sink = try makeSink(capture)
        let log = sink.producer(name: "worker 0")
        let t0: UInt64 = 7_000_000_000
        var built = 0
        for i in 0..<11 {
            log.emit({ built += 1; return "handshake refused \(i)" }(), limitedBy: "tls-refused", now: t0)
        }
        XCTAssertEqual(built, 10, "a suppressed line's message is never built")
        log.emit("upstream failed", limitedBy: "upstream-failed", now: t0)
        log.emit("handshake refused 11", limitedBy: "tls-refused", now: t0 + 1_000_000_000)
        XCTAssertEqual(log.suppressedLines, 1)
        XCTAssertEqual(sink.suppressedLines, 1)
        XCTAssertTrue(sink.flush(timeoutNanos: 10_000_000_000))
        sink.shutdown()
        let lines = capture.finish()
        XCTAssertEqual(lines.count, 12)
        XCTAssertEqual(Array(lines.prefix(10)), (0..<10).map { "causeway[worker 0]: handshake refused \($0)" })
        XCTAssertEqual(lines[10], "causeway[worker 0]: upstream failed")
        XCTAssertEqual(lines[11], "causeway[worker 0]: handshake refused 11 (1 similar lines suppressed)")
    }

    func testProducersOnTwoThreadsBothGetTheirLinesOut() throws {
        let capture = PipeCapture()
        capture.startReading()
        let sink = try makeSink(capture)
        let perThread = 2000
        let group = DispatchGroup()
        for t in 0..<2 {
            group.enter()
            let thread = Thread {
                // Made on the thread that uses it, as the contract asks.
                let log = sink.producer(name: "worker \(t)")
                for i in 0..<perThread { log.emit("n=\(i)") }
                group.leave()
            }
            thread.start()
        }
        group.wait()
        XCTAssertTrue(sink.flush(timeoutNanos: 10_000_000_000))
        sink.shutdown()
        let lines = capture.finish()
        XCTAssertEqual(sink.droppedLines, 0)
        for t in 0..<2 {
            let prefix = "causeway[worker \(t)]: "
            let mine = lines.filter { $0.hasPrefix(prefix) }
            XCTAssertEqual(mine, (0..<perThread).map { "\(prefix)n=\($0)" })
        }
        XCTAssertEqual(lines.count, 2 * perThread)
    }

    func testAccessLinesAreNeverRateLimitedAndLinesOfAGoneProducerStillGoOut() throws {
        let capture = PipeCapture()
        capture.startReading()
        let sink = try makeSink(capture)
        do {
            let log = sink.producer(name: "worker 0", linesPerSecondPerKey: 1)
            for i in 0..<50 {
                log.emitAccess(AccessLogRecord(
                    timeUnixNanos: 0, cluster: "c", listener: "l", peerIdentity: nil,
                    method: "GET", authority: "a", path: "/\(i)", status: 200, reason: nil, upstream: nil,
                    requestBytes: 0, responseBytes: 0, durationNanos: 0
                ))
            }
        }  // The producer is released here, its lines still queued.
        XCTAssertTrue(sink.flush(timeoutNanos: 10_000_000_000))
        sink.shutdown()
        let lines = capture.finish()
        XCTAssertEqual(lines.count, 50)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") })
        XCTAssertTrue(lines[49].contains(#""path":"/49""#))
        XCTAssertEqual(sink.producerStats(), [], "an empty retired ring is forgotten")
    }

    func testFlushTimesOutWhileTheDescriptorIsStuck() throws {
        let capture = PipeCapture()
        let sink = try makeSink(capture)
        let log = sink.producer(name: "w", ringBytes: 1 << 20)
        let line = String(repeating: "y", count: 1000)
        for _ in 0..<200 { log.emit(line) }  // 200 KB: more than the pipe holds.
        XCTAssertFalse(sink.flush(timeoutNanos: 50_000_000))
        capture.startReading()
        XCTAssertTrue(sink.flush(timeoutNanos: 10_000_000_000))
        XCTAssertTrue(sink.shutdown())
        XCTAssertEqual(capture.finish().count, 200)
    }

    /// A non-blocking descriptor that fills up is waited on, not treated as an error.
    func testNonBlockingDescriptorIsWaitedOn() throws {
        let capture = PipeCapture()
        let flags = fcntl(capture.writeFD, F_GETFL)
        XCTAssertEqual(fcntl(capture.writeFD, F_SETFL, flags | O_NONBLOCK), 0)
        let sink = try makeSink(capture)
        let log = sink.producer(name: "w", ringBytes: 1 << 20)
        let line = String(repeating: "z", count: 1000)
        for _ in 0..<200 { log.emit(line) }
        usleep(20_000)  // Let the writer hit EAGAIN.
        capture.startReading()
        XCTAssertTrue(sink.flush(timeoutNanos: 10_000_000_000))
        XCTAssertTrue(sink.shutdown())
        XCTAssertEqual(capture.finish().count, 200)
        XCTAssertEqual(sink.writeFailures, 0)
    }

    /// A dead descriptor loses lines (counted) but never stalls producers or `flush`.
    func testWriteErrorsAreCountedAndDoNotStall() throws {
        signal(SIGPIPE, SIG_IGN)
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        close(fds[0])  // Nobody will ever read: writes fail with EPIPE.
        defer { close(fds[1]) }
        let sink = try LogSink(fd: fds[1], threadName: "test-log", idleWaitMillis: -1)
        let log = sink.producer(name: "w", ringBytes: 4096)
        for i in 0..<1000 { log.emit("line \(i)") }
        XCTAssertTrue(sink.flush(timeoutNanos: 10_000_000_000))
        XCTAssertGreaterThan(sink.writeFailures, 0)
        XCTAssertTrue(sink.shutdown())
    }
}
