#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims

/// A fixed-size byte ring between two sockets: `read(from:)` fills its free space with one
/// `readv`, `write(to:)` empties it with one `writev`, each over at most two segments, so
/// bytes are copied once on the way in and once on the way out and never moved inside.
/// A full ring is the backpressure signal: its owner stops reading the source until the
/// sink takes bytes.
///
/// Owned by one loop thread; the storage is freed by `deallocate()`.
public struct RingBuffer {
    private let storage: UnsafeMutableRawPointer
    /// Bytes of storage.
    public let capacity: Int
    /// Offset of the first unread byte.
    private var start = 0
    /// Bytes held.
    public private(set) var count = 0

    /// Allocates `capacity` bytes.
    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    /// Frees the storage; the ring must not be used afterwards.
    public func deallocate() {
        storage.deallocate()
    }

    public var isEmpty: Bool { count == 0 }
    public var isFull: Bool { count == capacity }
    /// Bytes that fit before the ring is full.
    public var freeSpace: Int { capacity - count }

    /// Copies `bytes` in; they must fit (`freeSpace`). For bytes already read elsewhere
    /// (the first bytes a sniffer took).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count <= freeSpace)
        var offset = 0
        while offset < bytes.count {
            let tail = (start + count) % capacity
            let run = min(bytes.count - offset, capacity - tail, freeSpace)
            storage.advanced(by: tail).copyMemory(from: bytes.baseAddress!.advanced(by: offset), byteCount: run)
            count += run
            offset += run
        }
    }

    /// Reads what fits from `fd` (one `readv`). `.bytes(0)` is end of stream; asking with a
    /// full ring is a caller error.
    public mutating func read(from fd: Int32) -> IOResult {
        precondition(!isFull)
        if count == 0 { start = 0 }  // one contiguous segment when empty
        let tail = (start + count) % capacity
        let result: IOResult = withUnsafeTemporaryAllocation(of: iovec.self, capacity: 2) { iov in
            var segments: Int32 = 1
            if tail >= start {
                // Free: [tail, capacity) and [0, start).
                iov[0] = iovec(iov_base: storage.advanced(by: tail), iov_len: capacity - tail)
                if start > 0 {
                    iov[1] = iovec(iov_base: storage, iov_len: start)
                    segments = 2
                }
            } else {
                iov[0] = iovec(iov_base: storage.advanced(by: tail), iov_len: start - tail)
            }
            while true {
                let n = Glibc.readv(fd, iov.baseAddress!, segments)
                if n >= 0 { return .bytes(n) }
                let e = causeway_errno()
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
                return .failed(e)
            }
        }
        if case .bytes(let n) = result { count += n }
        return result
    }

    /// Writes what `fd` takes (one `writev`) and drops it from the ring. Nothing to write
    /// is `.bytes(0)`.
    public mutating func write(to fd: Int32) -> IOResult {
        guard count > 0 else { return .bytes(0) }
        let first = min(count, capacity - start)
        let result: IOResult = withUnsafeTemporaryAllocation(of: iovec.self, capacity: 2) { iov in
            iov[0] = iovec(iov_base: storage.advanced(by: start), iov_len: first)
            var segments: Int32 = 1
            if first < count {
                iov[1] = iovec(iov_base: storage, iov_len: count - first)
                segments = 2
            }
            return Syscall.writev(fd, iov.baseAddress!, count: segments)
        }
        if case .bytes(let n) = result {
            start = (start + n) % capacity
            count -= n
            if count == 0 { start = 0 }
        }
        return result
    }
}
