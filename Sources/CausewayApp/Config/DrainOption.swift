/// `causeway run --drain-seconds`: how long a SIGTERM/SIGINT drain may take, overriding
/// `spec.timeouts.drain`.
public enum DrainOption {
    /// The longest drain the option accepts, seconds (as `spec.timeouts.drain`: 1 h).
    public static let maxSeconds = 3600.0

    /// Why `seconds` is not a usable drain deadline, or nil when it is (0...3600; 0 closes
    /// connections without waiting).
    public static func problem(seconds: Double) -> String? {
        if seconds.isNaN { return "--drain-seconds must be a number of seconds, got nan" }
        if seconds.isInfinite { return "--drain-seconds must be finite, got \(seconds)" }
        if seconds < 0 { return "--drain-seconds must not be negative, got \(seconds)" }
        if seconds > maxSeconds { return "--drain-seconds must be at most \(Int(maxSeconds)) (1 hour), got \(seconds)" }
        return nil
    }

    /// A valid `seconds` (see `problem(seconds:)`) in nanoseconds.
    public static func nanos(seconds: Double) -> UInt64 {
        precondition(problem(seconds: seconds) == nil, "validate --drain-seconds first")
        return UInt64((seconds * 1e9).rounded())
    }
}
