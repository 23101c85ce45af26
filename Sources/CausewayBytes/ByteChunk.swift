/// A fixed-capacity byte buffer that moves between a stream's queue and a connection's
/// output without being copied.
///
/// Bytes are appended at `writeIndex` and consumed from `readIndex`. A chunk is owned by one
/// worker thread; it is not `Sendable`.
public final class ByteChunk {
    /// Size of the chunks the proxy allocates: one TLS record, one default HTTP/2 frame.
    public static let defaultCapacity = 16 * 1024

    /// Start of the storage; valid for the chunk's lifetime.
    public let base: UnsafeMutableRawPointer
    /// Bytes of storage.
    public let capacity: Int
    /// Offset of the first unread byte.
    public var readIndex = 0
    /// Offset one past the last written byte.
    public var writeIndex = 0

    /// Allocates `capacity` bytes of uninitialised storage.
    public init(capacity: Int = ByteChunk.defaultCapacity) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// Bytes written and not yet consumed.
    @inlinable public var readableBytes: Int { writeIndex - readIndex }
    /// Bytes that can still be appended.
    @inlinable public var writableBytes: Int { capacity - writeIndex }

    /// Copies as many bytes of `bytes` as fit; returns how many were copied.
    @discardableResult
    public func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, writableBytes)
        if n > 0, let src = bytes.baseAddress {
            (base + writeIndex).copyMemory(from: src, byteCount: n)
            writeIndex += n
        }
        return n
    }

    /// Empties the chunk so it can be reused.
    public func reset() {
        readIndex = 0
        writeIndex = 0
    }
}
