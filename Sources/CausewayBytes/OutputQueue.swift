/// Bytes waiting to be written to one connection, as a list of segments for `writev`.
///
/// Small, short-lived bytes (frame headers, HEADERS and SETTINGS frames from nghttp2's
/// internal buffer) are copied into chunks the queue owns; DATA payloads are appended by
/// reference to the chunk that already holds them, which keeps the chunk alive until the
/// bytes are written.
public struct OutputQueue {
    @usableFromInline
    struct Segment {
        var chunk: ByteChunk
        var start: Int
        var end: Int
        /// True when the queue owns the chunk and may append copied bytes to it.
        var owned: Bool
    }

    @usableFromInline var segments: [Segment] = []
    @usableFromInline var head = 0
    /// Bytes queued and not yet written.
    public private(set) var pendingBytes = 0
    private var spare: ByteChunk?

    public init() {}

    /// True when there is nothing to write.
    @inlinable public var isEmpty: Bool { pendingBytes == 0 }

    /// Copies `bytes` to the end of the queue.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            if head < segments.count, segments[segments.count - 1].owned {
                let i = segments.count - 1
                let chunk = segments[i].chunk
                if segments[i].end == chunk.writeIndex, chunk.writableBytes > 0 {
                    let n = chunk.append(rest)
                    segments[i].end += n
                    pendingBytes += n
                    rest = UnsafeRawBufferPointer(rebasing: rest[n...])
                    continue
                }
            }
            let chunk: ByteChunk
            if let s = spare {
                spare = nil
                s.reset()
                chunk = s
            } else {
                chunk = ByteChunk.make()
            }
            segments.append(Segment(chunk: chunk, start: 0, end: 0, owned: true))
        }
    }

    /// Queues `count` bytes of `chunk` starting at `offset` without copying them.
    public mutating func appendReference(_ chunk: ByteChunk, offset: Int, count: Int) {
        guard count > 0 else { return }
        segments.append(Segment(chunk: chunk, start: offset, end: offset + count, owned: false))
        pendingBytes += count
    }

    /// Calls `body` with up to `maxSegments` (pointer, length) pairs describing the front of
    /// the queue, for a gathering write. Returns what `body` returns.
    public func withSegments<R>(maxSegments: Int, _ body: (UnsafeBufferPointer<(UnsafeRawPointer, Int)>) throws -> R) rethrows -> R {
        let n = min(maxSegments, segments.count - head)
        return try withUnsafeTemporaryAllocation(of: (UnsafeRawPointer, Int).self, capacity: max(n, 1)) { buf in
            var k = 0
            var i = head
            while k < n {
                let s = segments[i]
                if s.end > s.start {
                    buf[k] = (UnsafeRawPointer(s.chunk.base + s.start), s.end - s.start)
                    k += 1
                }
                i += 1
                if i == segments.count { break }
            }
            return try body(UnsafeBufferPointer(rebasing: buf[0..<k]))
        }
    }

    /// Marks `count` bytes from the front as written.
    public mutating func consume(_ count: Int) {
        precondition(count <= pendingBytes)
        var left = count
        pendingBytes -= count
        while head < segments.count {
            let len = segments[head].end - segments[head].start
            if left < len {
                segments[head].start += left
                break
            }
            left -= len
            if segments[head].owned && segments[head].chunk.size >= ByteChunk.defaultCapacity {
                spare = segments[head].chunk
            }
            head += 1
        }
        if head == segments.count {
            segments.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 32 {
            segments.removeFirst(head)
            head = 0
        }
    }

    /// Frees the chunk kept for reuse (an idle connection need not hold 16 KiB).
    public mutating func releaseSpare() {
        spare = nil
    }

    /// Drops everything queued.
    public mutating func removeAll() {
        segments.removeAll()
        head = 0
        pendingBytes = 0
    }
}
