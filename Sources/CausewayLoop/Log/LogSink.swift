#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The process's log output: one background writer thread that drains every producer's
/// ring into a file descriptor.
///
/// Threads never write the descriptor themselves. Each thread that logs takes its own
/// `LogProducer` from the sink (`producer(name:)`) and emits into it without blocking; the
/// writer thread does the blocking `writev`s. When a producer's ring is full, its lines are
/// dropped and counted rather than waited for.
///
/// Thread contract: `producer(name:)`, the counters and `producerStats()` may be called
/// from any thread; `flush` and `shutdown` block and belong on the control thread (at exit),
/// never on a loop thread.
public final class LogSink: Sendable {
    /// Default ring size per producer: about a thousand access-log lines of backlog.
    public static let defaultRingBytes = 256 * 1024
    /// Default cap on one diagnostic message, after escaping.
    public static let defaultMaxMessageBytes = 2048

    private let registry: LogRegistry
    private let thread: pthread_t
    /// Set once `shutdown` has joined or detached the writer thread.
    private let finished = Mutex(false)

    /// Starts the writer thread.
    ///
    /// - Parameters:
    ///   - fd: where lines go; standard error by default. The sink does not close it, and
    ///     it must stay open until `shutdown` returns. Any descriptor works, blocking or not.
    ///   - threadName: the writer thread's name (at most 15 bytes are kept).
    ///   - idleWaitMillis: how long the idle writer sleeps before looking at the rings
    ///     without being woken. Producers wake it through an eventfd, so this is only a
    ///     safety net; tests pass -1 (no timeout) to prove that the wake-ups suffice.
    public init(fd: Int32 = 2, threadName: String = "causeway-log", idleWaitMillis: Int32 = 1000) throws(SystemError) {
        registry = try LogRegistry()
        thread = try LogWriter.start(registry: registry, fd: fd, name: threadName, idleWaitMillis: idleWaitMillis)
    }

    deinit {
        // Bounded: a sink dropped while its descriptor is stuck must not hang the thread
        // that released it. `shutdown` already ran in the normal exit path.
        shutdown(timeoutNanos: 1_000_000_000)
    }

    /// A new producer for the calling thread.
    ///
    /// Call it on the thread that will use the producer (e.g. in a loop's setup closure):
    /// `LogProducer` is not `Sendable`, because its ring has exactly one producer.
    ///
    /// - Parameters:
    ///   - name: shown in diagnostic lines as `causeway[name]: message`; empty gives
    ///     `causeway: message`.
    ///   - ringBytes: backlog before lines are dropped (rounded up to a power of two).
    ///   - linesPerSecondPerKey: the rate limit for keyed diagnostic lines.
    ///   - maxMessageBytes: longer messages are cut and end in `...`.
    public func producer(
        name: String,
        ringBytes: Int = LogSink.defaultRingBytes,
        linesPerSecondPerKey: Int = 10,
        maxMessageBytes: Int = LogSink.defaultMaxMessageBytes
    ) -> LogProducer {
        let ring = LogRing(name: name, capacity: ringBytes)
        registry.register(ring)
        return LogProducer(
            name: name, ring: ring, registry: registry,
            linesPerSecondPerKey: linesPerSecondPerKey, maxMessageBytes: maxMessageBytes
        )
    }

    // MARK: Counters (any thread)

    /// Lines dropped because a producer's ring was full, over all producers ever created.
    public var droppedLines: UInt64 { registry.totals().dropped }

    /// Diagnostic lines refused by the rate limiter, over all producers ever created.
    public var suppressedLines: UInt64 { registry.totals().suppressed }

    /// `writev` calls that failed (other than `EAGAIN`); the lines in them are lost.
    public var writeFailures: UInt64 { registry.writeFailures.load(ordering: .relaxed) }

    /// Counters of each live producer.
    public func producerStats() -> [LogProducerStats] {
        registry.allRings().map {
            LogProducerStats(
                name: $0.name,
                droppedLines: $0.dropped.load(ordering: .relaxed),
                suppressedLines: $0.suppressed.load(ordering: .relaxed)
            )
        }
    }

    // MARK: Draining (control thread)

    /// Blocks until every line queued before the call has been written.
    ///
    /// - Parameter timeoutNanos: give up after this long (nil: wait as long as it takes).
    ///   At exit pass a timeout: a reader that stopped reading our pipe would otherwise
    ///   hold the process.
    /// - Returns: `false` when lines were still queued at the timeout, or the writer thread
    ///   has stopped with lines left.
    @discardableResult
    public func flush(timeoutNanos: UInt64? = nil) -> Bool {
        let targets = registry.allRings().map { ($0, $0.head.load(ordering: .acquiring)) }
        registry.wake()
        let deadline = timeoutNanos.map { LogClock.monotonicNanos() &+ $0 }
        // Polling: flush runs once at exit, so a millisecond of latency is cheaper than a
        // second wake-up channel from the writer back to this thread.
        while true {
            if targets.allSatisfy({ $0.0.tail.load(ordering: .acquiring) >= $0.1 }) { return true }
            if registry.writerExited.load(ordering: .acquiring) { return false }
            if let deadline, LogClock.monotonicNanos() >= deadline { return false }
            Self.sleepOneMillisecond()
        }
    }

    /// Writes everything queued, then stops the writer thread. Idempotent. Lines emitted
    /// afterwards stay in their rings (and are dropped once a ring fills).
    ///
    /// - Parameter timeoutNanos: how long to wait for the writer to drain and exit (nil:
    ///   as long as it takes). On timeout the thread is detached, still draining, so that
    ///   exit is not held by a stuck descriptor.
    /// - Returns: `false` on timeout.
    @discardableResult
    public func shutdown(timeoutNanos: UInt64? = nil) -> Bool {
        finished.withLock { done in
            if done { return true }
            done = true
            registry.stopRequested.store(true, ordering: .releasing)
            registry.wake()
            let deadline = timeoutNanos.map { LogClock.monotonicNanos() &+ $0 }
            while !registry.writerExited.load(ordering: .acquiring) {
                if let deadline, LogClock.monotonicNanos() >= deadline {
                    pthread_detach(thread)
                    return false
                }
                Self.sleepOneMillisecond()
            }
            pthread_join(thread, nil)
            return true
        }
    }

    private static func sleepOneMillisecond() {
        var ts = timespec(tv_sec: 0, tv_nsec: 1_000_000)
        _ = nanosleep(&ts, nil)
    }
}

/// One producer's counters, for metrics.
public struct LogProducerStats: Sendable, Equatable {
    public let name: String
    /// Lines dropped because the ring was full.
    public let droppedLines: UInt64
    /// Diagnostic lines refused by the rate limiter.
    public let suppressedLines: UInt64
}
