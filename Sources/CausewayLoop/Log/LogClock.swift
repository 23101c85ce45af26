#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims

/// The two clocks logging needs. Callable from any thread; both are vDSO reads, no syscall.
public enum LogClock {
    /// `CLOCK_MONOTONIC` in nanoseconds: the rate limiter's clock. On a loop thread prefer
    /// `EventLoop.now`, read once per pass.
    @inline(__always)
    public static func monotonicNanos() -> UInt64 {
        causeway_monotonic_ns()
    }

    /// `CLOCK_REALTIME` as nanoseconds since the Unix epoch: the time stamped on access-log
    /// records. The shim has no realtime reader, and Glibc exposes `clock_gettime` and
    /// `CLOCK_REALTIME` directly, so no C is needed. A clock set before 1970 reads as 0.
    @inline(__always)
    public static func realtimeNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        guard ts.tv_sec >= 0 else { return 0 }
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
