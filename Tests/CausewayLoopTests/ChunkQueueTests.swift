import XCTest
@testable import CausewayBytes

final class ChunkQueueTests: XCTestCase {
    func testBytesComeOutInOrderAcrossChunkBoundaries() {
        var q = ChunkQueue()
        var expected: [UInt8] = []
        for i in 0..<50 {
            let piece = (0..<(1000 + i * 37)).map { UInt8(truncatingIfNeeded: $0 ^ i) }
            piece.withUnsafeBytes { q.append($0) }
            expected += piece
        }
        XCTAssertEqual(q.readableBytes, expected.count)
        var out: [UInt8] = []
        while let run = q.peek(limit: 7000) {
            out += UnsafeRawBufferPointer(start: run.chunk.base + run.offset, count: run.count)
            q.consume(run.count)
        }
        XCTAssertEqual(out, expected)
        XCTAssertTrue(q.isEmpty)
    }

    func testReferencedBytesAreNotOverwrittenByLaterAppends() {
        var q = ChunkQueue()
        [UInt8](repeating: 1, count: 100).withUnsafeBytes { q.append($0) }
        let run = q.peek(limit: 100)!
        q.consume(100)
        [UInt8](repeating: 2, count: 100).withUnsafeBytes { q.append($0) }
        let first = UnsafeRawBufferPointer(start: run.chunk.base + run.offset, count: run.count)
        XCTAssertTrue(first.allSatisfy { $0 == 1 })
        var tail = [UInt8](repeating: 0, count: 100)
        XCTAssertEqual(tail.withUnsafeMutableBytes { q.read(into: $0) }, 100)
        XCTAssertTrue(tail.allSatisfy { $0 == 2 })
    }

    func testOutputQueuePartialConsumeKeepsOrder() {
        var q = OutputQueue()
        let a = [UInt8](0..<200)
        a.withUnsafeBytes { q.append($0) }
        let chunk = ByteChunk.make()
        [UInt8](200..<255).withUnsafeBytes { _ = chunk.append($0) }
        q.appendReference(chunk, offset: 0, count: 55)
        q.consume(150)
        var rest: [UInt8] = []
        q.withSegments(maxSegments: 8) { segs in
            for s in segs { rest += UnsafeRawBufferPointer(start: s.0, count: s.1) }
        }
        XCTAssertEqual(rest, [UInt8](150..<255))
    }
}
