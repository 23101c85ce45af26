import Testing
import CausewayMesh

private func limits(_ value: Int) -> CircuitBreakerLimits {
    var limits = CircuitBreakerLimits()
    limits.maxConnections = value
    limits.maxPendingRequests = value
    limits.maxRequests = value
    limits.maxRetries = value
    return limits
}

/// `tryAcquire` through an `inout` argument: `#expect` cannot call a mutating method itself.
private func acquire(_ breaker: inout CircuitBreaker, _ limit: CircuitBreaker.Limit) -> Bool {
    breaker.tryAcquire(limit)
}

@Suite("CircuitBreaker")
struct CircuitBreakerTests {
    @Test("admits exactly its limit and refuses the next", arguments: CircuitBreaker.Limit.allCases)
    func admitsLimit(limit: CircuitBreaker.Limit) {
        var breaker = CircuitBreaker(limits: limits(4))
        #expect((0..<4).allSatisfy { _ in acquire(&breaker, limit) })
        #expect(breaker.count(limit) == 4)
        #expect(!acquire(&breaker, limit))
        #expect(breaker.count(limit) == 4, "a refusal takes nothing")
        for other in CircuitBreaker.Limit.allCases where other != limit {
            #expect(breaker.count(other) == 0, "limits are counted apart")
            #expect(acquire(&breaker, other))
        }
    }

    @Test("a release admits again", arguments: CircuitBreaker.Limit.allCases)
    func releaseAdmits(limit: CircuitBreaker.Limit) {
        var breaker = CircuitBreaker(limits: limits(2))
        #expect(acquire(&breaker, limit) && acquire(&breaker, limit))
        #expect(!acquire(&breaker, limit))
        breaker.release(limit)
        #expect(breaker.count(limit) == 1)
        #expect(acquire(&breaker, limit))
        #expect(!acquire(&breaker, limit))
        breaker.release(limit)
        breaker.release(limit)
        #expect(breaker.count(limit) == 0)
    }

    @Test("each limit reads its own field, defaults Envoy's")
    func fields() {
        var custom = CircuitBreakerLimits()
        custom.maxConnections = 1
        custom.maxPendingRequests = 2
        custom.maxRequests = 3
        custom.maxRetries = 4
        var breaker = CircuitBreaker(limits: custom)
        for (limit, expected) in [(CircuitBreaker.Limit.connections, 1), (.pending, 2), (.requests, 3), (.retries, 4)] {
            #expect(breaker.maximum(limit) == expected)
            var admitted = 0
            while acquire(&breaker, limit) { admitted += 1 }
            #expect(admitted == expected, "\(limit)")
        }
        let defaults = CircuitBreaker(limits: CircuitBreakerLimits())
        #expect(CircuitBreaker.Limit.allCases.map(defaults.maximum) == [1024, 1024, 1024, 3])
    }

    @Test("lowering a limit below the count refuses until enough are released")
    func lowered() {
        var breaker = CircuitBreaker(limits: limits(10))
        for _ in 0..<8 { #expect(acquire(&breaker, .requests)) }
        breaker.limits = limits(5)
        #expect(breaker.count(.requests) == 8, "a new snapshot keeps the counts")
        #expect(!acquire(&breaker, .requests))
        for _ in 0..<3 { breaker.release(.requests) }
        #expect(breaker.count(.requests) == 5)
        #expect(!acquire(&breaker, .requests), "at the new maximum, still refused")
        breaker.release(.requests)
        #expect(acquire(&breaker, .requests))
        #expect(!acquire(&breaker, .requests))
    }

    @Test("raising a limit admits more at once")
    func raised() {
        var breaker = CircuitBreaker(limits: limits(1))
        #expect(acquire(&breaker, .connections))
        #expect(!acquire(&breaker, .connections))
        breaker.limits = limits(3)
        #expect(acquire(&breaker, .connections) && acquire(&breaker, .connections))
        #expect(!acquire(&breaker, .connections))
    }

    @Test("a limit of 0 refuses everything")
    func zero() {
        var breaker = CircuitBreaker(limits: limits(0))
        for limit in CircuitBreaker.Limit.allCases { #expect(!acquire(&breaker, limit)) }
    }

    @Test("limit names are stable (metric labels)")
    func names() {
        #expect(CircuitBreaker.Limit.allCases.map(\.rawValue) == ["connections", "pending", "requests", "retries"])
    }
}
