import Glibc
import XCTest
@testable import CausewayBytes
@testable import CausewayLoop
@testable import CausewayProxy

/// The transport over a real socket pair, no TLS: reads, EOF and the read-pause reasons.
final class TransportTests: XCTestCase {
    private final class Recorder: LoopHandler {
        var events = 0
        func loopEvent(readable: Bool, writable: Bool, hangup: Bool) { events += 1 }
        func loopFlush() {}
    }

    private var fds: [Int32] = [0, 0]
    private var loop: EventLoop!
    private var context: LoopContext!

    override func setUpWithError() throws {
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds), 0)
        loop = try EventLoop()
        context = LoopContext(loop: loop)
    }

    override func tearDown() { Glibc.close(fds[1]) }

    private func send(_ text: String) {
        var t = text
        t.withUTF8 { _ = Glibc.write(fds[1], $0.baseAddress, $0.count) }
    }

    private func read(_ transport: Transport) -> (Transport.ReadOutcome, String) {
        var got = ""
        let outcome = transport.readAvailable(into: context.readBuffer, plaintext: context.plaintextBuffer, countReceived: { _ in },
                                              handshakeCompleted: { true },
                                              deliver: { got += String(decoding: $0, as: UTF8.self); return true })
        return (outcome, got)
    }

    func testDeliversBytesThenReportsEndOfStreamAndStopsWatchingReads() throws {
        let transport = Transport(loop: loop, fd: fds[0], tls: nil, connecting: false)
        let recorder = Recorder()
        try transport.register(recorder)
        send("hello")
        let (first, text) = read(transport)
        guard case .idle = first else { return XCTFail("\(first)") }
        XCTAssertEqual(text, "hello")
        shutdown(fds[1], Int32(SHUT_WR))
        let (second, _) = read(transport)
        guard case .endOfStream = second else { return XCTFail("\(second)") }
        XCTAssertTrue(transport.peerFinished)
        // The FIN stays readable for ever; a paused transport must not be woken by it.
        recorder.events = 0
        for _ in 0..<5 { loop.runOnce(timeoutMillis: 10) }
        XCTAssertEqual(recorder.events, 0, "woken \(recorder.events) times after the peer half-closed")
        transport.close()
        XCTAssertTrue(transport.isClosed)
    }

    func testReadsResumeOnlyWhenEveryPauseReasonIsGone() throws {
        let transport = Transport(loop: loop, fd: fds[0], tls: nil, connecting: false)
        let recorder = Recorder()
        try transport.register(recorder)
        transport.pauseReads(.outputBacklog)
        send("x")
        for _ in 0..<3 { loop.runOnce(timeoutMillis: 10) }
        XCTAssertEqual(recorder.events, 0)
        transport.resumeReads(.outputBacklog)
        loop.runOnce(timeoutMillis: 100)
        XCTAssertEqual(recorder.events, 1)
        transport.close()
    }

    func testWritesPlaintextToTheSocket() throws {
        let transport = Transport(loop: loop, fd: fds[0], tls: nil, connecting: false)
        var queue = OutputQueue()
        Array("frames".utf8).withUnsafeBytes { queue.append($0) }
        let (result, sent) = transport.write(&queue)
        guard case .drained = result else { return XCTFail("\(result)") }
        XCTAssertEqual(sent, 6)
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(Glibc.read(fds[1], &buffer, 16), 6)
        transport.close()
    }
}
