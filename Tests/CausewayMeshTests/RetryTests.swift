import Testing
import CausewayMesh

private let ms: UInt64 = 1_000_000

@Suite("RetryBudget")
struct RetryBudgetTests {
    @Test("retries in flight stay below max(3, 20 % of active requests)", arguments: [
        (0, 3), (1, 3), (14, 3), (15, 3), (19, 3), (20, 4), (24, 4), (25, 5), (100, 20), (1_000, 200), (-5, 3),
    ])
    func arithmetic(active: Int, allowed: Int) {
        let budget = RetryBudget()
        #expect(budget.limit(activeRequests: active) == allowed)
        #expect(budget.allows(activeRequests: active, activeRetries: allowed - 1))
        #expect(!budget.allows(activeRequests: active, activeRetries: allowed))
        #expect(!budget.allows(activeRequests: active, activeRetries: allowed + 1))
    }

    @Test("defaults are Envoy's; other settings apply")
    func settings() {
        #expect(RetryBudget().percent == 20)
        #expect(RetryBudget().minConcurrent == 3)
        var budget = RetryBudget()
        budget.percent = 50
        budget.minConcurrent = 0
        #expect(!budget.allows(activeRequests: 0, activeRetries: 0))
        #expect(!budget.allows(activeRequests: 1, activeRetries: 0))
        #expect(budget.allows(activeRequests: 2, activeRetries: 0))
        #expect(budget.limit(activeRequests: 10) == 5)
        budget.percent = .nan
        #expect(budget.limit(activeRequests: 10) == 0)
        budget.percent = .infinity
        #expect(budget.limit(activeRequests: 10) == 0, "a nonsense percentage falls back to the minimum")
        budget.percent = 1e300
        #expect(budget.limit(activeRequests: 10) == Int.max)
    }
}

@Suite("RetryBackoff")
struct RetryBackoffTests {
    @Test("full jitter stays within [0, min(max, base × 2^(n-1))]", arguments: [
        (1, 25 * ms), (2, 50 * ms), (3, 100 * ms), (4, 200 * ms), (5, 250 * ms), (6, 250 * ms), (40, 250 * ms), (1_000, 250 * ms),
    ])
    func bounds(retry: Int, ceiling: UInt64) {
        var random = SplitMix64(seed: UInt64(retry))
        var highest: UInt64 = 0
        var lowest = UInt64.max
        for _ in 0..<10_000 {
            let delay = RetryBackoff.delayNanos(retry: retry, baseNanos: 25 * ms, maxNanos: 250 * ms, random: random.next())
            #expect(delay <= ceiling)
            highest = max(highest, delay)
            lowest = min(lowest, delay)
        }
        // Spread over the whole range, not bunched.
        #expect(highest > ceiling / 100 * 99)
        #expect(lowest < ceiling / 100)
    }

    @Test("the extremes of random map to the ends of the range")
    func extremes() {
        #expect(RetryBackoff.delayNanos(retry: 1, baseNanos: 25 * ms, maxNanos: 250 * ms, random: 0) == 0)
        #expect(RetryBackoff.delayNanos(retry: 1, baseNanos: 25 * ms, maxNanos: 250 * ms, random: .max) == 25 * ms)
        #expect(RetryBackoff.delayNanos(retry: 9, baseNanos: 25 * ms, maxNanos: 250 * ms, random: .max) == 250 * ms)
        #expect(RetryBackoff.delayNanos(retry: 2, baseNanos: 25 * ms, maxNanos: 250 * ms, random: 1 << 63) == 25 * ms)
    }

    @Test("retry counts below 1 count as the first; zero and huge values do not trap")
    func edges() {
        #expect(RetryBackoff.delayNanos(retry: 0, baseNanos: 10, maxNanos: 1_000, random: .max) == 10)
        #expect(RetryBackoff.delayNanos(retry: -3, baseNanos: 10, maxNanos: 1_000, random: .max) == 10)
        #expect(RetryBackoff.delayNanos(retry: 3, baseNanos: 0, maxNanos: 1_000, random: .max) == 0)
        #expect(RetryBackoff.delayNanos(retry: 3, baseNanos: 10, maxNanos: 0, random: .max) == 0)
        #expect(RetryBackoff.delayNanos(retry: 64, baseNanos: 1 << 62, maxNanos: .max, random: .max) == .max)
        #expect(RetryBackoff.delayNanos(retry: 3, baseNanos: 1 << 62, maxNanos: .max, random: 7) == 7)
        #expect(RetryBackoff.delayNanos(retry: .max, baseNanos: 1, maxNanos: 5, random: .max) == 5)
    }

    @Test("the mean is half the ceiling (uniform)")
    func uniform() {
        var random = SplitMix64(seed: 42)
        let n = 100_000
        var sum = 0.0
        for _ in 0..<n {
            sum += Double(RetryBackoff.delayNanos(retry: 3, baseNanos: 25 * ms, maxNanos: 250 * ms, random: random.next()))
        }
        let mean = sum / Double(n)
        #expect(abs(mean - Double(50 * ms)) < Double(ms))
    }
}

@Suite("RetryRules")
struct RetryRulesTests {
    private static let configured: RetryPolicy = {
        var p = RetryPolicy()
        p.codes = [502, 503]
        p.idempotentOnly = false
        return p
    }()

    @Test("failures before a response are always retried", arguments: [
        AttemptFailure.connectFailure, .refusedStream, .resetBeforeResponse, .timeout,
    ])
    func beforeResponse(failure: AttemptFailure) {
        for method in ["GET", "POST", "PATCH", "CONNECT", ""] {
            #expect(withBytes(method) { RetryRules.shouldRetry(failure, method: $0, policy: .standard) })
            #expect(withBytes(method) { RetryRules.shouldRetry(failure, method: $0, policy: Self.configured) })
        }
    }

    @Test("the standard policy retries 503 for idempotent methods only", arguments: [
        ("GET", 503, true), ("HEAD", 503, true), ("OPTIONS", 503, true), ("PUT", 503, true), ("DELETE", 503, true),
        ("POST", 503, false), ("PATCH", 503, false), ("TRACE", 503, false), ("CONNECT", 503, false),
        ("get", 503, false), ("GETX", 503, false), ("", 503, false),
        ("GET", 502, false), ("GET", 500, false), ("GET", 504, false), ("GET", 200, false), ("GET", 429, false),
    ])
    func standard(method: String, status: Int, retried: Bool) {
        #expect(withBytes(method) { RetryRules.shouldRetry(.status(status), method: $0, policy: .standard) } == retried)
    }

    @Test("a configured policy retries its codes for every method", arguments: [
        ("GET", 502, true), ("POST", 502, true), ("PATCH", 503, true), ("POST", 504, false), ("GET", 500, false),
        ("DELETE", 200, false),
    ])
    func configured(method: String, status: Int, retried: Bool) {
        #expect(withBytes(method) { RetryRules.shouldRetry(.status(status), method: $0, policy: Self.configured) } == retried)
    }

    @Test("no codes: statuses are never retried")
    func noCodes() {
        var policy = RetryPolicy()
        policy.codes = []
        #expect(!withBytes("GET") { RetryRules.shouldRetry(.status(503), method: $0, policy: policy) })
        #expect(withBytes("GET") { RetryRules.shouldRetry(.timeout, method: $0, policy: policy) })
    }
}
