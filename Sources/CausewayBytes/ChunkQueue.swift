/// A FIFO of bytes kept in `ByteChunk`s, used for one direction of one stream's body.
///
/// Appending copies into the tail chunk (the only copy a DATA payload gets on its way
/// through the proxy); reading hands out contiguous runs of the head chunk so that the
/// consumer can reference them instead of copying (see `OutputQueue.appendReference`).
public struct ChunkQueue {
    private var chunks: [ByteChunk] = []
    private var head = 0
    /// Total unread bytes.
    public private(set) var readableBytes = 0

    public init() {}

    /// True when no bytes are queued.
    @inlinable public var isEmpty: Bool { readableBytes == 0 }

    /// Copies `bytes` to the end of the queue.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            let tail: ByteChunk
            if head < chunks.count, let last = chunks.last, last.writableBytes > 0 {
                tail = last
            } else {
                // The first chunk fits the first write: most bodies are small.
                tail = chunks.isEmpty ? ByteChunk.make(forFirstWrite: rest.count) : ByteChunk.make()
                chunks.append(tail)
            }
            let n = tail.append(rest)
            readableBytes += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    /// The first contiguous run of unread bytes, at most `limit` long, without consuming it.
    /// Returns nil when the queue is empty.
    public func peek(limit: Int) -> (chunk: ByteChunk, offset: Int, count: Int)? {
        guard head < chunks.count else { return nil }
        let c = chunks[head]
        let n = min(limit, c.readableBytes)
        return n > 0 ? (c, c.readIndex, n) : nil
    }

    /// Consumes `count` bytes from the front. `count` must not exceed `readableBytes`.
    public mutating func consume(_ count: Int) {
        precondition(count <= readableBytes)
        var left = count
        readableBytes -= count
        while left > 0 {
            let c = chunks[head]
            let n = min(left, c.readableBytes)
            c.readIndex += n
            left -= n
            // Never rewind a drained chunk: an OutputQueue may still reference its bytes.
            if c.readableBytes == 0 && (c.writableBytes == 0 || head + 1 < chunks.count) {
                head += 1
            }
        }
        if head > 0 && (head == chunks.count || head >= 16) {
            chunks.removeFirst(head)
            head = 0
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

    /// Drops every queued byte.
    public mutating func removeAll() {
        chunks.removeAll()
        head = 0
        readableBytes = 0
    }
}
