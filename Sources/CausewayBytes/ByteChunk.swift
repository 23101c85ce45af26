/// Read and write offsets of a `ByteChunk`, stored in the chunk's header.
public struct ByteChunkHeader {
    /// Offset of the first unread byte.
    public var readIndex: Int
    /// Offset one past the last written byte.
    public var writeIndex: Int
    /// Usable bytes (what was asked for; `ManagedBuffer.capacity` asks malloc each time).
    public let size: Int
    /// The next chunk of the `ChunkQueue` holding this one (a chunk is in at most one).
    var next: ByteChunk?
}

/// A fixed-capacity byte buffer that moves between a stream's queue and a connection's
/// output without being copied.
///
/// Bytes are appended at `writeIndex` and consumed from `readIndex`. The bytes live in the
/// same allocation as the object (one `malloc` per chunk, not two). A chunk is owned by
/// one worker thread; it is not `Sendable`.
public final class ByteChunk: ManagedBuffer<ByteChunkHeader, UInt8> {
    /// Size of the chunks the proxy allocates for bulk data: one TLS record, one default
    /// HTTP/2 frame.
    public static let defaultCapacity = 16 * 1024

    /// Allocates a chunk of at least `capacity` bytes of uninitialised storage.
    public static func make(capacity: Int = defaultCapacity) -> ByteChunk {
        precondition(capacity > 0)
        let buffer = ByteChunk.create(minimumCapacity: capacity) { _ in ByteChunkHeader(readIndex: 0, writeIndex: 0, size: capacity, next: nil) }
        return unsafeDowncast(buffer, to: ByteChunk.self)
    }

    /// A chunk sized for a first write of `count` bytes: small bodies (most responses) get
    /// a small allocation, bulk data gets `defaultCapacity`.
    public static func make(forFirstWrite count: Int) -> ByteChunk {
        make(capacity: count >= defaultCapacity / 2 ? defaultCapacity : max(256, (count + 255) & ~255))
    }

    /// Start of the storage; valid for the chunk's lifetime (tail-allocated storage
    /// never moves).
    @inlinable public var base: UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(withUnsafeMutablePointerToElements { $0 })
    }

    /// Bytes of storage.
    @inlinable public var size: Int { header.size }

    /// Offset of the first unread byte.
    @inlinable public var readIndex: Int {
        get { header.readIndex }
        set { header.readIndex = newValue }
    }

    /// Offset one past the last written byte.
    @inlinable public var writeIndex: Int {
        get { header.writeIndex }
        set { header.writeIndex = newValue }
    }

    /// The next chunk in its queue.
    var next: ByteChunk? {
        get { header.next }
        set { header.next = newValue }
    }

    /// Bytes written and not yet consumed.
    @inlinable public var readableBytes: Int { header.writeIndex - header.readIndex }
    /// Bytes that can still be appended.
    @inlinable public var writableBytes: Int { header.size - header.writeIndex }

    /// Copies as many bytes of `bytes` as fit; returns how many were copied.
    @discardableResult
    public func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, writableBytes)
        if n > 0, let src = bytes.baseAddress {
            (base + header.writeIndex).copyMemory(from: src, byteCount: n)
            header.writeIndex += n
        }
        return n
    }

    /// Empties the chunk so it can be reused.
    public func reset() {
        header.readIndex = 0
        header.writeIndex = 0
    }
}
