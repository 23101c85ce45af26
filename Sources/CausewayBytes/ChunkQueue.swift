/// A FIFO of bytes kept in `ByteChunk`s, used for one direction of one stream's body.
///
/// Appending copies into the tail chunk (the only copy a DATA payload gets on its way
/// through the proxy); reading hands out contiguous runs of the head chunk so that the
/// consumer can reference them instead of copying (see `OutputQueue.appendReference`).
/// The chunks are linked through their headers, so a queue allocates nothing but chunks.
public struct ChunkQueue {
    private var head: ByteChunk?
    private var tail: ByteChunk?
    /// Total unread bytes.
    public private(set) var readableBytes = 0

    public init() {}

    /// True when no bytes are queued.
    @inlinable public var isEmpty: Bool { readableBytes == 0 }

    /// Copies `bytes` to the end of the queue.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            let target: ByteChunk
            if let t = tail, t.writableBytes > 0 {
                target = t
            } else {
                // The first chunk fits the first write: most bodies are small.
                let fresh = head == nil ? ByteChunk.make(forFirstWrite: rest.count) : ByteChunk.make()
                if let t = tail { t.next = fresh } else { head = fresh }
                tail = fresh
                target = fresh
            }
            let n = target.append(rest)
            readableBytes += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    /// The first contiguous run of unread bytes, at most `limit` long, without consuming it.
    /// Returns nil when the queue is empty.
    public func peek(limit: Int) -> (chunk: ByteChunk, offset: Int, count: Int)? {
        guard let c = head else { return nil }
        let n = min(limit, c.readableBytes)
        return n > 0 ? (c, c.readIndex, n) : nil
    }

    /// Consumes `count` bytes from the front. `count` must not exceed `readableBytes`.
    public mutating func consume(_ count: Int) {
        precondition(count <= readableBytes)
        var left = count
        readableBytes -= count
        while left > 0, let c = head {
            let n = min(left, c.readableBytes)
            c.readIndex += n
            left -= n
            // Never rewind a drained chunk: an OutputQueue may still reference its bytes.
            // A drained tail with room left stays, for the next append.
            if c.readableBytes == 0 && (c.writableBytes == 0 || c !== tail) {
                head = c.next
                c.next = nil
                if head == nil { tail = nil }
            }
        }
    }

    /// Copies up to `destination.count` bytes out of the queue and consumes them.
    public mutating func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        var copied = 0
        while copied < destination.count, let run = peek(limit: destination.count - copied) {
            (destination.baseAddress! + copied).copyMemory(from: run.chunk.base + run.offset, byteCount: run.count)
            copied += run.count
            consume(run.count)
        }
        return copied
    }

    /// Drops every queued byte, unlinking the chunks one by one (no deep release chain).
    public mutating func removeAll() {
        var c = head
        while let chunk = c {
            c = chunk.next
            chunk.next = nil
        }
        head = nil
        tail = nil
        readableBytes = 0
    }
}
