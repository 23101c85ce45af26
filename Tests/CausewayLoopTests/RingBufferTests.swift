import XCTest
import Glibc
@testable import CausewayLoop

final class RingBufferTests: XCTestCase {
    private func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds), 0)
        return (fds[0], fds[1])
    }

    private func send(_ bytes: [UInt8], to fd: Int32) {
        XCTAssertEqual(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, bytes.count)
    }

    private func receive(_ fd: Int32, max: Int = 1 << 16) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    /// Bytes pass through in order while the free space and the held bytes wrap around the
    /// end of the storage (two segments per readv and writev), and a full ring reads nothing.
    func testBytesKeepTheirOrderAcrossTheWrap() {
        let (sourceIn, source) = socketPair()
        let (sink, sinkOut) = socketPair()
        defer { [sourceIn, source, sink, sinkOut].forEach { close($0) } }
        var ring = RingBuffer(capacity: 10)
        defer { ring.deallocate() }
        let stream = (0..<200).map { UInt8($0) }
        var sent = 0, delivered: [UInt8] = []
        var step = 0
        while delivered.count < stream.count {
            if sent < stream.count {
                let n = min(7, stream.count - sent)
                send(Array(stream[sent..<sent + n]), to: sourceIn)
                sent += n
            }
            if !ring.isFull { _ = ring.read(from: source) }
            XCTAssertLessThanOrEqual(ring.count, 10)
            // Take out a varying amount, so the start moves around the ring.
            if step % 3 != 2 { _ = ring.write(to: sink) }
            delivered += receive(sinkOut)
            step += 1
            XCTAssertLessThan(step, 1000)
        }
        XCTAssertEqual(delivered, stream)
        XCTAssertTrue(ring.isEmpty)
    }

    /// Appended bytes (what a sniffer read) go out before anything read later, and a full
    /// ring is the backpressure point.
    func testAppendedBytesGoFirstAndAFullRingStopsReading() {
        let (sourceIn, source) = socketPair()
        let (sink, sinkOut) = socketPair()
        defer { [sourceIn, source, sink, sinkOut].forEach { close($0) } }
        var ring = RingBuffer(capacity: 8)
        defer { ring.deallocate() }
        [UInt8]("GET".utf8).withUnsafeBytes { ring.append($0) }
        send(Array(" / HTTP/1.1\r\n".utf8), to: sourceIn)
        XCTAssertEqual(ring.read(from: source), .bytes(5))
        XCTAssertTrue(ring.isFull)
        XCTAssertEqual(ring.write(to: sink), .bytes(8))
        XCTAssertEqual(ring.read(from: source), .bytes(8))
        XCTAssertEqual(ring.write(to: sink), .bytes(8))
        XCTAssertEqual(ring.read(from: source), .wouldBlock)
        XCTAssertEqual(String(decoding: receive(sinkOut), as: UTF8.self), "GET / HTTP/1.1\r\n")
        shutdown(sourceIn, Int32(SHUT_WR))
        XCTAssertEqual(ring.read(from: source), .bytes(0))
    }
}
