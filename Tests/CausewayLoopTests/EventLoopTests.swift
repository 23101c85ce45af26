import XCTest
import Foundation
import Glibc
@testable import CausewayLoop

final class EventLoopTests: XCTestCase {
    func testTimersFireInDeadlineOrderAndCancelledOnesDoNot() throws {
        let loop = try EventLoop()
        var fired: [Int] = []
        loop.schedule(after: 30_000_000) { fired.append(3) }
        loop.schedule(after: 10_000_000) { fired.append(1) }
        let cancelled = loop.schedule(after: 20_000_000) { fired.append(99) }
        loop.schedule(after: 20_000_000) { fired.append(2) }
        loop.cancel(cancelled)
        let deadline = loop.now + 2_000_000_000
        while fired.count < 3 && loop.now < deadline { loop.runOnce(timeoutMillis: 100) }
        XCTAssertEqual(fired, [1, 2, 3])
    }

    func testTimerScheduledFromTimerCallbackFires() throws {
        let loop = try EventLoop()
        var fired = 0
        loop.schedule(after: 1_000_000) {
            fired += 1
            loop.schedule(after: 1_000_000) { fired += 1 }
        }
        let deadline = loop.now + 2_000_000_000
        while fired < 2 && loop.now < deadline { loop.runOnce(timeoutMillis: 100) }
        XCTAssertEqual(fired, 2)
    }

    func testMailboxRunsMessagesFromOtherThreadsInOrder() throws {
        let loop = try EventLoop()
        final class Sink { var values: [Int] = [] }
        let sink = Sink()
        loop.context = sink
        let mailbox = loop.mailbox
        let poster = Thread {
            for i in 0..<1000 { mailbox.post { ($0.context as! Sink).values.append(i) } }
        }
        poster.start()
        let deadline = loop.now + 5_000_000_000
        while sink.values.count < 1000 && loop.now < deadline { loop.runOnce(timeoutMillis: 100) }
        XCTAssertEqual(sink.values, Array(0..<1000))
    }

    func testLoopThreadStopsWhenAsked() throws {
        let (mailbox, join) = try LoopThread.start(name: "test") { _ in }
        mailbox.post { $0.stop() }
        join()
    }

    func testReadinessIsDeliveredAndDeregisteredDescriptorsAreSilent() throws {
        let loop = try EventLoop()
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        final class Probe: LoopHandler {
            var readable = 0
            func loopEvent(readable: Bool, writable: Bool, hangup: Bool) { if readable { self.readable += 1 } }
            func loopFlush() {}
        }
        let probe = Probe()
        try loop.register(fds[0], handler: probe, interest: .read)
        _ = [UInt8](repeating: 7, count: 3).withUnsafeBytes { Syscall.write(fds[1], $0) }
        loop.runOnce(timeoutMillis: 1000)
        XCTAssertEqual(probe.readable, 1)
        loop.deregister(fds[0])
        loop.runOnce(timeoutMillis: 50)
        XCTAssertEqual(probe.readable, 1)
    }

    /// A closed descriptor (-1) is refused with an error, never used as a slot index (which
    /// trapped), and modify/deregister of one are no-ops.
    func testNegativeDescriptorIsRefusedNotRegistered() throws {
        let loop = try EventLoop()
        final class Probe: LoopHandler {
            func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {}
            func loopFlush() {}
        }
        XCTAssertThrowsError(try loop.register(-1, handler: Probe(), interest: .read)) { error in
            XCTAssertEqual((error as? SystemError)?.code, EBADF)
        }
        loop.modify(-1, interest: .write)
        loop.deregister(-1)
        loop.runOnce(timeoutMillis: 0)
    }

    func testSyscallReadReportsWouldBlockAsAValue() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        var buf = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(buf.withUnsafeMutableBytes { Syscall.read(fds[0], into: $0) }, .wouldBlock)
        close(fds[1])
        XCTAssertEqual(buf.withUnsafeMutableBytes { Syscall.read(fds[0], into: $0) }, .bytes(0))
    }
}
