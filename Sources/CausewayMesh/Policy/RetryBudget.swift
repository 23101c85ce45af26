/// Envoy's retry budget: how many retries may be in flight relative to the requests in flight,
/// so that retries cannot multiply the load on a Service that is already failing.
public struct RetryBudget: Sendable, Equatable {
    /// Retries in flight allowed, as a percentage of active requests. Envoy's default 20.
    public var percent: Double = 20
    /// Retries in flight always allowed, however few requests are active. Envoy's default 3.
    public var minConcurrent: Int = 3

    /// Envoy's defaults: 20 %, at least 3.
    public init() {}

    /// True when one more retry may start: retries in flight stay below
    /// max(minConcurrent, percent% of active requests), the percentage rounded down.
    public func allows(activeRequests: Int, activeRetries: Int) -> Bool {
        activeRetries < limit(activeRequests: activeRequests)
    }

    /// Retries that may be in flight with `activeRequests` requests active.
    public func limit(activeRequests: Int) -> Int {
        let share = percent * Double(max(0, activeRequests)) / 100
        // Guard the conversion: a NaN or huge percentage must not trap.
        let byShare = share.isFinite && share >= 0 ? (share < Double(Int.max) ? Int(share) : Int.max) : 0
        return max(minConcurrent, byShare)
    }
}

/// The delay before a retry.
public enum RetryBackoff {
    /// Delay before retry `n` (1 for the first; lower counts as 1): uniform in
    /// [0, min(max, base × 2^(n-1))] from `random` (a full 64-bit random value) — full jitter,
    /// so retries of many clients spread out instead of arriving together.
    public static func delayNanos(retry n: Int, baseNanos: UInt64, maxNanos: UInt64, random: UInt64) -> UInt64 {
        let shift = max(0, n - 1)
        // base × 2^shift, saturating: past 63 doublings (or on overflow) only the cap remains.
        var ceiling = maxNanos
        if shift < 64 {
            let scaled = baseNanos << UInt64(shift)
            if scaled >> UInt64(shift) == baseNanos { ceiling = min(maxNanos, scaled) }
        }
        // Scale `random` onto 0...ceiling with the high half of a 128-bit product: uniform
        // to within 2^-64, no modulo, and no overflow when ceiling is UInt64.max.
        guard ceiling < UInt64.max else { return random }
        return (ceiling + 1).multipliedFullWidth(by: random).high
    }
}

/// Why an attempt failed.
public enum AttemptFailure: Sendable, Equatable {
    /// No connection to the chosen endpoint.
    case connectFailure
    /// The upstream refused the stream (HTTP/2 `REFUSED_STREAM`): it was never processed.
    case refusedStream
    /// The stream or connection was reset before any response header arrived.
    case resetBeforeResponse
    /// The per-attempt `backendRequest` timeout fired: retried like `resetBeforeResponse`.
    case timeout
    /// A complete response head with this status.
    case status(Int)
}

/// Which failed attempts are retried.
public enum RetryRules {
    /// Whether a finished attempt should be retried under `policy` (before any budget/limit
    /// check, `policy.attempts` included): `.connectFailure`, `.refusedStream`,
    /// `.resetBeforeResponse` and `.timeout` always; `.status(code)` when `code` is in
    /// `policy.codes` and (`!policy.idempotentOnly` or the method is GET, HEAD, OPTIONS, PUT
    /// or DELETE).
    /// True for GET, HEAD, OPTIONS, PUT and DELETE: methods a client may send twice.
    public static func isIdempotent(method: UnsafeRawBufferPointer) -> Bool {
        PolicyBytes.isIdempotentMethod(method)
    }

    public static func shouldRetry(_ failure: AttemptFailure, method: UnsafeRawBufferPointer, policy: RetryPolicy) -> Bool {
        switch failure {
        case .connectFailure, .refusedStream, .resetBeforeResponse, .timeout:
            return true
        case .status(let code):
            guard policy.codes.contains(code) else { return false }
            return !policy.idempotentOnly || PolicyBytes.isIdempotentMethod(method)
        }
    }
}
