#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A bounded single-producer/single-consumer ring of complete log lines, as bytes.
///
/// The producer is the thread that owns the `LogProducer`; the consumer is the sink's
/// writer thread. Lines are stored back to back with no framing: every line ends in `\n`
/// and `head` only ever moves past complete lines, so the consumer can hand any
/// `tail..<head` range straight to `writev` without ever writing half a line.
///
/// `head` and `tail` count bytes since creation (a 64-bit count does not wrap); a position's
/// offset in `storage` is `position & mask`.
///
/// `@unchecked Sendable`: `storage` is shared by two threads without a lock. The producer
/// only writes bytes in `head..<(tail + capacity)` and the consumer only reads bytes in
/// `tail..<head`, which never overlap; publishing `head` (release) after writing, and
/// `tail` (release) after reading, with the matching acquire loads on the other side,
/// orders the byte accesses. Every other field is immutable or atomic.
final class LogRing: @unchecked Sendable {
    /// The producer's name, for per-producer statistics.
    let name: String
    let capacity: Int
    private let mask: UInt64
    private let storage: UnsafeMutableRawPointer

    /// End of the last complete line. Stored by the producer only.
    let head = Atomic<UInt64>(0)
    /// End of what the consumer has written out. Stored by the consumer only.
    let tail = Atomic<UInt64>(0)
    /// Lines refused because the ring was full. Stored by the producer only.
    let dropped = Atomic<UInt64>(0)
    /// Lines refused by the rate limiter. Stored by the producer only.
    let suppressed = Atomic<UInt64>(0)
    /// Set when the producer is gone: the consumer forgets the ring once it is empty.
    let retired = Atomic<Bool>(false)

    /// - Parameter capacity: rounded up to a power of two, at least 4 KiB.
    init(name: String, capacity: Int) {
        var size = 4096
        while size < capacity { size <<= 1 }
        self.name = name
        self.capacity = size
        mask = UInt64(size - 1)
        storage = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    }

    deinit { storage.deallocate() }

    // MARK: Producer side

    /// Outcome of `push`.
    enum PushResult {
        /// The ring had no room; the line was counted in `dropped`.
        case dropped
        /// The line is queued. `consumerCaughtUp` is true when the consumer had written
        /// everything before it, so it may be asleep and must be woken.
        case queued(consumerCaughtUp: Bool)
    }

    /// Copies one complete line (ending in `\n`) into the ring. Producer thread only.
    /// Never blocks.
    func push(_ line: UnsafeRawBufferPointer) -> PushResult {
        guard line.count > 0 else { return .queued(consumerCaughtUp: false) }
        let count = UInt64(line.count)
        let h = head.load(ordering: .relaxed)  // Only this thread stores `head`.
        // Acquire: the consumer has finished reading the bytes it released.
        let t = tail.load(ordering: .acquiring)
        guard UInt64(capacity) - (h - t) >= count else {
            countDrop()
            return .dropped
        }
        let offset = Int(h & mask)
        let first = min(line.count, capacity - offset)
        (storage + offset).copyMemory(from: line.baseAddress!, byteCount: first)
        if first < line.count {
            storage.copyMemory(from: line.baseAddress! + first, byteCount: line.count - first)
        }
        // Sequentially consistent, with the load below and the consumer's `tail` store and
        // `head` load: of "producer sees the consumer caught up" and "consumer sees this
        // line before sleeping", at least one holds, so a line is never left unwritten
        // with the consumer asleep (the store-buffering pattern; release/acquire alone
        // would allow both loads to read stale values).
        head.store(h + count, ordering: .sequentiallyConsistent)
        let caughtUp = tail.load(ordering: .sequentiallyConsistent) == h
        return .queued(consumerCaughtUp: caughtUp)
    }

    /// Counts a line refused for lack of room. Producer thread only: a plain load and
    /// store instead of a locked add, since no other thread stores the counter.
    func countDrop() {
        dropped.store(dropped.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// Counts a line refused by the rate limiter. Producer thread only.
    func countSuppressed() {
        suppressed.store(suppressed.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    // MARK: Consumer side

    /// The bytes queued and not yet released, as at most two contiguous pieces (the second
    /// when the range wraps), with the `head` they end at. Consumer thread only.
    func readable() -> (end: UInt64, first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer) {
        let t = tail.load(ordering: .relaxed)  // Only the consumer stores `tail`.
        let h = head.load(ordering: .sequentiallyConsistent)  // See `push`.
        let count = Int(h - t)
        let offset = Int(t & mask)
        let first = min(count, capacity - offset)
        return (
            h,
            UnsafeRawBufferPointer(start: storage + offset, count: first),
            UnsafeRawBufferPointer(start: storage, count: count - first)
        )
    }

    /// Gives `count` written bytes back to the producer. Consumer thread only.
    func release(_ count: Int) {
        let t = tail.load(ordering: .relaxed)
        tail.store(t + UInt64(count), ordering: .sequentiallyConsistent)
    }

    /// True when nothing is queued. Any thread (a snapshot).
    var isEmpty: Bool {
        tail.load(ordering: .acquiring) == head.load(ordering: .acquiring)
    }
}
