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
    /// The owned chunk copied bytes go into. Copies between DATA references keep filling
    /// it (as new segments), so a pass that interleaves many small frames with payload
    /// references needs one chunk, not one per frame. Rewound when the queue drains.
    private var current: ByteChunk?
    /// A filled owned chunk kept for reuse once written.
    private var spare: ByteChunk?

    public init() {}

    /// True when there is nothing to write.
    @inlinable public var isEmpty: Bool { pendingBytes == 0 }

    /// Copies `bytes` to the end of the queue.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            guard let chunk = current, chunk.writableBytes > 0 else {
                if let s = spare {
                    spare = nil
                    s.reset()
                    current = s
                } else {
                    current = ByteChunk.make()
                }
                continue
            }
            let start = chunk.writeIndex
            let n = chunk.append(rest)
            let last = segments.count - 1
            if last >= head, segments[last].owned, segments[last].chunk === chunk, segments[last].end == start {
                segments[last].end += n
            } else {
                segments.append(Segment(chunk: chunk, start: start, end: start + n, owned: true))
            }
            pendingBytes += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
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
            let chunk = segments[head].chunk
            if segments[head].owned && chunk !== current && chunk.size >= ByteChunk.defaultCapacity {
                spare = chunk
            }
            head += 1
        }
        if head == segments.count {
            segments.removeAll(keepingCapacity: true)
            head = 0
            // Everything written: the current chunk can be refilled from the start.
            current?.reset()
        } else if head >= 32 {
            segments.removeFirst(head)
            head = 0
        }
    }

    /// Frees the chunks kept for reuse (an idle connection need not hold 16 KiB).
    public mutating func releaseSpare() {
        spare = nil
        if isEmpty { current = nil }
    }

    /// Drops everything queued.
    public mutating func removeAll() {
        segments.removeAll()
        head = 0
        pendingBytes = 0
        current = nil
    }
}
