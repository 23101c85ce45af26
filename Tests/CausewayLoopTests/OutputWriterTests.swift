import XCTest
import Glibc
@testable import CausewayBytes
@testable import CausewayLoop

final class OutputWriterTests: XCTestCase {
    /// A full socket buffer yields `.blocked` with the rest kept; draining the peer and
    /// flushing again delivers every byte in order, copied and referenced segments alike.
    func testPartialWritesResumeWhereTheyStopped() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        var small: Int32 = 4096
        setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))

        var expected: [UInt8] = []
        var queue = OutputQueue()
        for i in 0..<64 {
            let header = [UInt8](repeating: UInt8(i), count: 9)
            header.withUnsafeBytes { queue.append($0) }
            expected += header
            let chunk = ByteChunk.make()
            let payload = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &+ i) }
            payload.withUnsafeBytes { _ = chunk.append($0) }
            queue.appendReference(chunk, offset: 0, count: payload.count)
            expected += payload
        }
        XCTAssertEqual(queue.pendingBytes, expected.count)

        var received: [UInt8] = []
        var sawBlocked = false
        var buf = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<10_000 {
            let r = OutputWriter.flush(&queue, to: fds[0])
            if r == .blocked { sawBlocked = true }
            XCTAssertNotEqual(r, .failed(EPIPE))
            while case .bytes(let n) = buf.withUnsafeMutableBytes({ Syscall.read(fds[1], into: $0) }), n > 0 {
                received += buf[0..<n]
            }
            if r == .drained && queue.isEmpty { break }
        }
        XCTAssertTrue(sawBlocked, "the small send buffer should have filled at least once")
        XCTAssertTrue(queue.isEmpty)
        XCTAssertEqual(received.count, expected.count)
        XCTAssertEqual(received, expected)
    }

    func testFlushToClosedPeerFails() throws {
        signal(SIGPIPE, SIG_IGN)
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds), 0)
        close(fds[1])
        defer { close(fds[0]) }
        var queue = OutputQueue()
        [UInt8](repeating: 1, count: 100).withUnsafeBytes { queue.append($0) }
        XCTAssertEqual(OutputWriter.flush(&queue, to: fds[0]), .failed(EPIPE))
    }
}
