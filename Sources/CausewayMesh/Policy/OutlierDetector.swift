/// What one finished request (or attempt) says about the host that served it.
public enum OutlierOutcome: Sendable, Equatable {
    /// Any response that is not a 5xx (a 4xx is the client's problem, not the host's).
    case success
    /// A 5xx (502/503/504 are also gateway errors).
    case serverError(status: Int)
    /// Connect failure, reset before a response, timeout.
    case localOriginFailure

    /// Maps a gRPC status (from `grpc-status`) to an outcome: UNAVAILABLE(14)→503,
    /// INTERNAL(13)→500, DEADLINE_EXCEEDED(4)→504, RESOURCE_EXHAUSTED(8)→503 as server errors;
    /// anything else success (a gRPC error such as NOT_FOUND is the application's answer).
    public static func grpc(status: Int) -> OutlierOutcome {
        switch status {
        case 14, 8: .serverError(status: 503)
        case 13: .serverError(status: 500)
        case 4: .serverError(status: 504)
        default: .success
        }
    }
}

/// Passive health checking of one Service's hosts (endpoints), Envoy's consecutive-error
/// outlier detection with `split_external_local_origin_errors = false`, as Istio configures it.
///
/// - A success resets every consecutive counter of the host.
/// - `serverError` counts a 5xx; 502/503/504 also count a gateway error (other 5xx reset it).
/// - `localOriginFailure` counts a local-origin failure and also a 5xx and a gateway error
///   (Envoy maps unsplit local-origin errors to 503).
/// - A counter reaching its threshold (0 disables that detector) ejects the host and resets
///   its counters, unless ejecting it would exceed `maxEjectionPercent` of hosts (one host may
///   always be ejected, as in Envoy) or the share of hosts not ejected is already below
///   `minHealthPercent`. A refused ejection resets the counters that reached their thresholds
///   (Envoy resets the triggering counter), so the host needs another full bout of failures.
/// - Outcomes recorded while a host is ejected are ignored: they come from requests started
///   before the ejection, and its counters restart when it returns.
/// - Ejection time = `baseEjectionNanos` × the number of times the host has been ejected
///   (this one included), capped at `maxEjectionNanos`. The count never decays (Envoy's
///   multiplier shrinks again while a host stays healthy; ours does not).
///
/// Hosts are indexes `0..<hosts`; an index out of range is ignored (never ejected). One per
/// worker per Service; `record` runs per request and does not allocate.
public struct OutlierDetector: Sendable {
    private struct Host: Sendable {
        var consecutive5xx = 0
        var consecutiveGatewayErrors = 0
        var consecutiveLocalOriginFailures = 0
        /// When the current ejection ends; nil when not ejected.
        var ejectedUntil: UInt64?
        /// Times ejected so far: the ejection time multiplier.
        var ejections = 0

        mutating func resetCounters() {
            consecutive5xx = 0
            consecutiveGatewayErrors = 0
            consecutiveLocalOriginFailures = 0
        }
    }

    /// The thresholds and times. Settable: a new snapshot may change them; ejections in
    /// progress keep the end they were given.
    public var policy: OutlierPolicy
    private var state: [Host]
    /// Hosts currently ejected.
    public private(set) var ejectedCount = 0

    /// A detector for `hosts` hosts, none ejected.
    public init(policy: OutlierPolicy, hosts: Int) {
        self.policy = policy
        state = Array(repeating: Host(), count: max(0, hosts))
    }

    /// Number of hosts.
    public var hosts: Int { state.count }

    /// Records an outcome for `host` at `now` (monotonic nanoseconds); returns true when this
    /// outcome ejected it.
    public mutating func record(host: Int, _ outcome: OutlierOutcome, now: UInt64) -> Bool {
        guard state.indices.contains(host), state[host].ejectedUntil == nil else { return false }
        let p = policy
        var trippedLocal = false
        // Each detector trips when its counter reaches the threshold; `>=` rather than `==`
        // so that lowering a threshold below a running count trips on the next failure.
        switch outcome {
        case .success:
            state[host].resetCounters()
            return false
        case .serverError(let status):
            state[host].consecutive5xx += 1
            if status == 502 || status == 503 || status == 504 {
                state[host].consecutiveGatewayErrors += 1
            } else {
                state[host].consecutiveGatewayErrors = 0
            }
        case .localOriginFailure:
            state[host].consecutiveLocalOriginFailures += 1
            state[host].consecutive5xx += 1
            state[host].consecutiveGatewayErrors += 1
            trippedLocal = p.consecutiveLocalOriginFailures > 0 && state[host].consecutiveLocalOriginFailures >= p.consecutiveLocalOriginFailures
        }
        let tripped5xx = p.consecutive5xx > 0 && state[host].consecutive5xx >= p.consecutive5xx
        let trippedGateway = p.consecutiveGatewayErrors > 0 && state[host].consecutiveGatewayErrors >= p.consecutiveGatewayErrors
        guard tripped5xx || trippedGateway || trippedLocal else { return false }

        guard mayEject() else {
            if tripped5xx { state[host].consecutive5xx = 0 }
            if trippedGateway { state[host].consecutiveGatewayErrors = 0 }
            if trippedLocal { state[host].consecutiveLocalOriginFailures = 0 }
            return false
        }
        state[host].resetCounters()
        state[host].ejections += 1
        state[host].ejectedUntil = Self.adding(ejectionNanos(times: state[host].ejections), to: now)
        ejectedCount += 1
        return true
    }

    /// Whether `host` is ejected (until a `sweep` at or after its end brings it back).
    public func isEjected(host: Int) -> Bool {
        ejectionEnds(host: host) != nil
    }

    /// When `host`'s ejection ends, or nil when it is not ejected.
    public func ejectionEnds(host: Int) -> UInt64? {
        state.indices.contains(host) ? state[host].ejectedUntil : nil
    }

    /// Ends ejections due at or before `now`; returns the hosts that came back, in index order
    /// (empty, without allocating, when none did). Call at least every `policy.intervalNanos`.
    public mutating func sweep(now: UInt64) -> [Int] {
        guard ejectedCount > 0 else { return [] }
        var back: [Int] = []
        for i in state.indices {
            guard let until = state[i].ejectedUntil, until <= now else { continue }
            state[i].ejectedUntil = nil
            state[i].resetCounters()
            ejectedCount -= 1
            back.append(i)
        }
        return back
    }

    /// Times `host` has been ejected (the ejection time multiplier); 0 for an unknown host.
    public func ejections(host: Int) -> Int {
        state.indices.contains(host) ? state[host].ejections : 0
    }

    /// Whether the share of hosts not ejected is below `policy.minHealthPercent`: ejection is
    /// suspended, and a load balancer following Istio uses every host (panic).
    public var isBelowMinHealth: Bool {
        (hosts - ejectedCount) * 100 < policy.minHealthPercent * hosts
    }

    /// How long the `times`-th ejection of a host lasts.
    public func ejectionNanos(times: Int) -> UInt64 {
        let n = UInt64(max(1, times))
        let (product, overflow) = policy.baseEjectionNanos.multipliedReportingOverflow(by: n)
        return overflow ? policy.maxEjectionNanos : min(product, policy.maxEjectionNanos)
    }

    /// Whether one more host may be ejected now.
    private func mayEject() -> Bool {
        if isBelowMinHealth { return false }
        // One host may always be ejected; beyond that, stay within the percentage.
        if ejectedCount == 0 { return true }
        return (ejectedCount + 1) * 100 <= policy.maxEjectionPercent * hosts
    }

    private static func adding(_ nanos: UInt64, to now: UInt64) -> UInt64 {
        let (sum, overflow) = now.addingReportingOverflow(nanos)
        return overflow ? UInt64.max : sum
    }
}
