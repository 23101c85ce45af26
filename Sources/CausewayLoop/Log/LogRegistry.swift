#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims
import Synchronization

/// State shared by a sink, its producers and its writer thread: the list of rings, the
/// writer's wake-up eventfd and the counters that outlive producers.
///
/// Retained by every producer and by the writer thread, so the eventfd stays open as long
/// as anyone may write to it, even after the `LogSink` itself is gone.
final class LogRegistry: Sendable {
    private struct State {
        var rings: [LogRing] = []
        /// Counters of rings already forgotten, so totals never go backwards.
        var retiredDropped: UInt64 = 0
        var retiredSuppressed: UInt64 = 0
    }

    /// The writer sleeps on this; producers write it to wake the writer.
    let eventFD: Int32
    /// The mutex is taken to register a producer and by the writer once per batch, never
    /// by a producer emitting a line.
    private let state = Mutex(State())
    /// Set by `LogSink.shutdown`: the writer exits once every ring is empty.
    let stopRequested = Atomic<Bool>(false)
    /// Set by the writer thread as its last action.
    let writerExited = Atomic<Bool>(false)
    /// `writev` calls that failed with an error other than `EAGAIN`; their bytes are lost.
    let writeFailures = Atomic<UInt64>(0)

    init() throws(SystemError) {
        eventFD = try Syscall.check("eventfd", causeway_eventfd())
    }

    deinit { Syscall.close(eventFD) }

    /// Adds a producer's ring. Any thread.
    func register(_ ring: LogRing) {
        state.withLock { $0.rings.append(ring) }
    }

    /// Wakes the writer. Any thread; never blocks (the eventfd is non-blocking and its
    /// counter cannot realistically overflow).
    func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Syscall.write(eventFD, $0) }
    }

    /// The rings to drain, after forgetting retired ones that are empty. Writer thread.
    func activeRings() -> [LogRing] {
        state.withLock { s in
            if s.rings.contains(where: { $0.retired.load(ordering: .acquiring) && $0.isEmpty }) {
                var kept: [LogRing] = []
                for ring in s.rings {
                    if ring.retired.load(ordering: .acquiring) && ring.isEmpty {
                        s.retiredDropped &+= ring.dropped.load(ordering: .relaxed)
                        s.retiredSuppressed &+= ring.suppressed.load(ordering: .relaxed)
                    } else {
                        kept.append(ring)
                    }
                }
                s.rings = kept
            }
            return s.rings
        }
    }

    /// Every registered ring (a snapshot). Any thread.
    func allRings() -> [LogRing] {
        state.withLock { $0.rings }
    }

    /// Totals over live and forgotten rings. Any thread.
    func totals() -> (dropped: UInt64, suppressed: UInt64) {
        state.withLock { s in
            var dropped = s.retiredDropped
            var suppressed = s.retiredSuppressed
            for ring in s.rings {
                dropped &+= ring.dropped.load(ordering: .relaxed)
                suppressed &+= ring.suppressed.load(ordering: .relaxed)
            }
            return (dropped, suppressed)
        }
    }
}
