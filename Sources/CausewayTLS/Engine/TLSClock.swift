#if canImport(Glibc)
import Glibc
#endif

/// Where the engine reads the time it judges certificate validity by, in whole seconds
/// since the Unix epoch (what X.509 validity has: second precision).
///
/// Injected rather than read from the system inside the checks, so that tests can put a
/// connection at any moment (after a certificate expired, before it starts) without
/// issuing short-lived certificates and sleeping.
public struct TLSClock: Sendable {
    private let read: @Sendable () -> Int64

    /// A clock that reads `now()` each time it is asked.
    public init(_ now: @escaping @Sendable () -> Int64) {
        self.read = now
    }

    /// The system's wall clock (`time(2)`).
    public static let system = TLSClock { Int64(time(nil)) }

    /// Seconds since the Unix epoch, now.
    public var now: Int64 { read() }
}
