import Testing
import CausewayMesh

private let second: UInt64 = 1_000_000_000

/// A policy with only the given detectors on, 100 % ejectable, 30 s base, 300 s max.
private func policy(fiveXX: Int = 0, gateway: Int = 0, local: Int = 0, maxPercent: Int = 100, minHealth: Int = 0) -> OutlierPolicy {
    var p = OutlierPolicy()
    p.consecutive5xx = fiveXX
    p.consecutiveGatewayErrors = gateway
    p.consecutiveLocalOriginFailures = local
    p.maxEjectionPercent = maxPercent
    p.minHealthPercent = minHealth
    return p
}

/// Records `outcome` `times` times for `host`; returns what each record returned.
@discardableResult
private func record(_ detector: inout OutlierDetector, host: Int = 0, _ outcome: OutlierOutcome, times: Int, now: UInt64 = 0) -> [Bool] {
    (0..<times).map { _ in recordOne(&detector, host: host, outcome, now: now) }
}

/// `record` and `sweep` through an `inout` argument: `#expect` cannot call a mutating method itself.
private func recordOne(_ detector: inout OutlierDetector, host: Int, _ outcome: OutlierOutcome, now: UInt64) -> Bool {
    detector.record(host: host, outcome, now: now)
}

private func sweep(_ detector: inout OutlierDetector, now: UInt64) -> [Int] {
    detector.sweep(now: now)
}

@Suite("OutlierDetector")
struct OutlierDetectorTests {
    @Test("each detector ejects after exactly its threshold of consecutive failures", arguments: [
        (policy(fiveXX: 5), OutlierOutcome.serverError(status: 500), 5),
        (policy(fiveXX: 3), .serverError(status: 503), 3),
        (policy(fiveXX: 1), .serverError(status: 599), 1),
        (policy(gateway: 4), .serverError(status: 502), 4),
        (policy(gateway: 4), .serverError(status: 503), 4),
        (policy(gateway: 4), .serverError(status: 504), 4),
        (policy(local: 5), .localOriginFailure, 5),
        (policy(fiveXX: 3), .localOriginFailure, 3),
        (policy(gateway: 2), .localOriginFailure, 2),
        (OutlierPolicy.passive, .localOriginFailure, 5),
        (OutlierPolicy(), .serverError(status: 500), 5),
    ])
    func threshold(policy: OutlierPolicy, outcome: OutlierOutcome, n: Int) {
        var detector = OutlierDetector(policy: policy, hosts: 4)
        #expect(record(&detector, host: 2, outcome, times: n - 1, now: 7).allSatisfy { !$0 })
        #expect(!detector.isEjected(host: 2))
        #expect(recordOne(&detector, host: 2, outcome, now: 7))
        #expect(detector.isEjected(host: 2))
        #expect(detector.ejectionEnds(host: 2) == 7 + policy.baseEjectionNanos)
        #expect(detector.ejectedCount == 1)
        #expect(detector.ejections(host: 2) == 1)
        #expect(!detector.isEjected(host: 1))
    }

    @Test("a disabled detector (threshold 0) never ejects", arguments: [
        (policy(), OutlierOutcome.localOriginFailure),
        (policy(local: 5), .serverError(status: 503)),
        (policy(gateway: 5), .serverError(status: 500)),
        (OutlierPolicy.passive, .serverError(status: 503)),
    ])
    func disabled(policy: OutlierPolicy, outcome: OutlierOutcome) {
        var detector = OutlierDetector(policy: policy, hosts: 1)
        #expect(record(&detector, outcome, times: 1_000).allSatisfy { !$0 })
        #expect(detector.ejectedCount == 0)
    }

    @Test("a success resets every consecutive counter", arguments: [
        (policy(fiveXX: 3), OutlierOutcome.serverError(status: 500)),
        (policy(gateway: 3), .serverError(status: 503)),
        (policy(local: 3), .localOriginFailure),
    ])
    func successResets(policy: OutlierPolicy, outcome: OutlierOutcome) {
        var detector = OutlierDetector(policy: policy, hosts: 1)
        for _ in 0..<10 {
            record(&detector, outcome, times: 2)
            #expect(!recordOne(&detector, host: 0, .success, now: 0))
        }
        #expect(!detector.isEjected(host: 0))
        record(&detector, outcome, times: 2)
        #expect(recordOne(&detector, host: 0, outcome, now: 0))
    }

    @Test("a non-gateway 5xx resets the gateway counter but counts as a 5xx")
    func nonGatewayResetsGateway() {
        var detector = OutlierDetector(policy: policy(fiveXX: 5, gateway: 3), hosts: 1)
        record(&detector, .serverError(status: 503), times: 2)
        #expect(!recordOne(&detector, host: 0, .serverError(status: 500), now: 0))
        record(&detector, .serverError(status: 502), times: 1)
        // Gateway count 1, 5xx count 4: the next 5xx of any kind reaches five.
        #expect(recordOne(&detector, host: 0, .serverError(status: 500), now: 0))
    }

    @Test("a gRPC error that is not the host's fault counts as a success")
    func grpcAndSuccess() {
        var detector = OutlierDetector(policy: policy(fiveXX: 2), hosts: 1)
        record(&detector, .serverError(status: 500), times: 1)
        record(&detector, .grpc(status: 5), times: 1)
        #expect(!recordOne(&detector, host: 0, .serverError(status: 500), now: 0))
        #expect(recordOne(&detector, host: 0, .grpc(status: 14), now: 0))
    }

    @Test("gRPC statuses map to server errors", arguments: [
        (14, OutlierOutcome.serverError(status: 503)), (13, .serverError(status: 500)), (4, .serverError(status: 504)),
        (8, .serverError(status: 503)), (0, .success), (1, .success), (2, .success), (3, .success), (5, .success),
        (7, .success), (12, .success), (16, .success), (-1, .success), (99, .success),
    ])
    func grpcMapping(status: Int, outcome: OutlierOutcome) {
        #expect(OutlierOutcome.grpc(status: status) == outcome)
    }

    @Test("an ejected host returns after its ejection time, at the sweep")
    func returns() {
        var detector = OutlierDetector(policy: policy(local: 2), hosts: 3)
        record(&detector, host: 1, .localOriginFailure, times: 2, now: 100 * second)
        #expect(detector.ejectionEnds(host: 1) == 130 * second)
        #expect(sweep(&detector, now: 120 * second) == [])
        #expect(sweep(&detector, now: 130 * second - 1) == [])
        #expect(detector.isEjected(host: 1))
        #expect(sweep(&detector, now: 130 * second) == [1])
        #expect(!detector.isEjected(host: 1))
        #expect(detector.ejectionEnds(host: 1) == nil)
        #expect(detector.ejectedCount == 0)
        #expect(sweep(&detector, now: 200 * second) == [])
    }

    @Test("a sweep returns every host due, in index order")
    func sweepMany() {
        var detector = OutlierDetector(policy: policy(local: 1), hosts: 5)
        #expect(recordOne(&detector, host: 3, .localOriginFailure, now: 0))
        #expect(recordOne(&detector, host: 0, .localOriginFailure, now: 5 * second))
        #expect(recordOne(&detector, host: 4, .localOriginFailure, now: 40 * second))
        #expect(detector.ejectedCount == 3)
        #expect(sweep(&detector, now: 60 * second) == [0, 3])
        #expect(detector.ejectedCount == 1)
        #expect(sweep(&detector, now: 70 * second) == [4])
    }

    @Test("outcomes recorded while ejected are ignored, and counters restart on return")
    func whileEjected() {
        var detector = OutlierDetector(policy: policy(fiveXX: 3), hosts: 2)
        record(&detector, .serverError(status: 500), times: 3)
        #expect(detector.isEjected(host: 0))
        #expect(record(&detector, .serverError(status: 500), times: 10).allSatisfy { !$0 })
        #expect(detector.ejections(host: 0) == 1)
        _ = sweep(&detector, now: 30 * second)
        #expect(record(&detector, .serverError(status: 500), times: 2, now: 31 * second).allSatisfy { !$0 })
        #expect(recordOne(&detector, host: 0, .serverError(status: 500), now: 31 * second))
    }

    @Test("the second ejection lasts twice as long; the time is capped at the maximum")
    func multiplier() {
        var detector = OutlierDetector(policy: policy(local: 1), hosts: 1)
        var now: UInt64 = 0
        var durations: [UInt64] = []
        for _ in 0..<12 {
            #expect(recordOne(&detector, host: 0, .localOriginFailure, now: now))
            guard let end = detector.ejectionEnds(host: 0) else { return }
            durations.append(end - now)
            now = end
            #expect(sweep(&detector, now: now) == [0])
        }
        #expect(durations[0] == 30 * second)
        #expect(durations[1] == 60 * second)
        #expect(durations[2] == 90 * second)
        #expect(durations[9] == 300 * second)
        #expect(durations[10] == 300 * second, "capped at maxEjectionNanos")
        #expect(durations[11] == 300 * second)
        #expect(detector.ejections(host: 0) == 12)
        #expect(detector.ejectionNanos(times: 1) == 30 * second)
        #expect(detector.ejectionNanos(times: Int.max) == 300 * second, "no overflow")
    }

    @Test("max ejection percent: 10 hosts at 10 % eject one, 20 hosts two")
    func maxPercent() {
        var detector = OutlierDetector(policy: policy(local: 1, maxPercent: 10), hosts: 10)
        #expect(recordOne(&detector, host: 0, .localOriginFailure, now: 0))
        #expect(!recordOne(&detector, host: 1, .localOriginFailure, now: 0))
        #expect(!detector.isEjected(host: 1))
        #expect(detector.ejectedCount == 1)

        var twenty = OutlierDetector(policy: policy(local: 1, maxPercent: 10), hosts: 20)
        #expect((0..<5).map { recordOne(&twenty, host: $0, .localOriginFailure, now: 0) } == [true, true, false, false, false])
    }

    @Test("one host may always be ejected", arguments: [(1, 10), (1, 0), (3, 10), (5, 19)])
    func atLeastOne(hosts: Int, maxPercent: Int) {
        var detector = OutlierDetector(policy: policy(local: 1, maxPercent: maxPercent), hosts: hosts)
        #expect(recordOne(&detector, host: 0, .localOriginFailure, now: 0))
        if hosts > 1 { #expect(!recordOne(&detector, host: 1, .localOriginFailure, now: 0)) }
    }

    @Test("passive: every host may be ejected")
    func passiveEjectsAll() {
        var detector = OutlierDetector(policy: .passive, hosts: 3)
        for host in 0..<3 { record(&detector, host: host, .localOriginFailure, times: 5) }
        #expect(detector.ejectedCount == 3)
    }

    @Test("a refused ejection needs another full bout; once room frees up it goes ahead")
    func refusedResets() {
        var detector = OutlierDetector(policy: policy(fiveXX: 3, maxPercent: 10), hosts: 10)
        record(&detector, host: 0, .serverError(status: 500), times: 3)
        #expect(detector.isEjected(host: 0))
        #expect(record(&detector, host: 1, .serverError(status: 500), times: 3) == [false, false, false])
        #expect(sweep(&detector, now: 30 * second) == [0])
        #expect(record(&detector, host: 1, .serverError(status: 500), times: 3, now: 30 * second) == [false, false, true])
    }

    @Test("min health percent: no ejection once the healthy share is below it")
    func minHealth() {
        var detector = OutlierDetector(policy: policy(local: 1, minHealth: 80), hosts: 10)
        // 10, 9, 8 of 10 healthy are not below 80 %: three ejections; then 70 % is below.
        #expect((0..<5).map { recordOne(&detector, host: $0, .localOriginFailure, now: 0) } == [true, true, true, false, false])
        #expect(detector.ejectedCount == 3)
        #expect(detector.isBelowMinHealth)
        _ = sweep(&detector, now: 30 * second)
        #expect(!detector.isBelowMinHealth)
        #expect(recordOne(&detector, host: 4, .localOriginFailure, now: 30 * second))
    }

    @Test("min health 100 % still allows the first ejection only")
    func minHealthFull() {
        var detector = OutlierDetector(policy: policy(local: 1, minHealth: 100), hosts: 4)
        #expect(recordOne(&detector, host: 0, .localOriginFailure, now: 0))
        #expect(!recordOne(&detector, host: 1, .localOriginFailure, now: 0))
    }

    @Test("a new policy applies to the next outcome; ejections keep their end")
    func policyChange() {
        var detector = OutlierDetector(policy: policy(fiveXX: 10), hosts: 2)
        record(&detector, host: 1, .serverError(status: 500), times: 10)
        let end = detector.ejectionEnds(host: 1)
        record(&detector, host: 0, .serverError(status: 500), times: 4)
        detector.policy = policy(fiveXX: 3)
        #expect(detector.ejectionEnds(host: 1) == end)
        #expect(recordOne(&detector, host: 0, .serverError(status: 500), now: 0), "count 5 is past the new threshold")
    }

    @Test("hosts out of range are ignored")
    func outOfRange() {
        var detector = OutlierDetector(policy: policy(local: 1), hosts: 2)
        #expect(detector.hosts == 2)
        for host in [-1, 2, 100] {
            #expect(!recordOne(&detector, host: host, .localOriginFailure, now: 0))
            #expect(!detector.isEjected(host: host))
            #expect(detector.ejectionEnds(host: host) == nil)
            #expect(detector.ejections(host: host) == 0)
        }
        #expect(detector.ejectedCount == 0)
        var none = OutlierDetector(policy: policy(local: 1), hosts: 0)
        #expect(!recordOne(&none, host: 0, .localOriginFailure, now: 0))
        #expect(sweep(&none, now: .max) == [])
    }

    @Test("an ejection near the end of time saturates")
    func saturates() {
        var detector = OutlierDetector(policy: policy(local: 1), hosts: 1)
        #expect(recordOne(&detector, host: 0, .localOriginFailure, now: .max - 5))
        #expect(detector.ejectionEnds(host: 0) == .max)
        #expect(sweep(&detector, now: .max) == [0])
    }
}
