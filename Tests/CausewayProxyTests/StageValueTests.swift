import XCTest
@testable import CausewayLoop
@testable import CausewayProxy
@testable import CausewayHTTP
@testable import CausewayMesh

final class ResetTrackerTests: XCTestCase {
    func testTripsWhenMoreThanHalfOfTheLastHundredWereReset() {
        var t = ResetTracker()
        // 99 streams, all reset: not enough history yet.
        for _ in 0..<99 { XCTAssertFalse(t.record(premature: true)) }
        XCTAssertTrue(t.record(premature: true))
    }

    func testHalfIsTolerated() {
        var t = ResetTracker()
        for i in 0..<1000 { XCTAssertFalse(t.record(premature: i % 2 == 0), "stream \(i)") }
        XCTAssertEqual(t.premature, 50)
    }

    func testOldResetsAgeOut() {
        var t = ResetTracker()
        for _ in 0..<50 { _ = t.record(premature: true) }
        for _ in 0..<100 { XCTAssertFalse(t.record(premature: false)) }
        XCTAssertEqual(t.premature, 0)
        for _ in 0..<50 { XCTAssertFalse(t.record(premature: true)) }
        XCTAssertTrue(t.record(premature: true))
    }
}

final class DescriptorBudgetTests: XCTestCase {
    func testAQuarterOfTheLimitStaysForUpstreams() {
        XCTAssertEqual(OpenFileLimit.downstreamBudget(limit: 1_048_576, workers: 2), 393_216)
        XCTAssertEqual(OpenFileLimit.downstreamBudget(limit: 1024, workers: 2), 384)
        XCTAssertEqual(OpenFileLimit.downstreamBudget(limit: 300, workers: 4), 11)
        XCTAssertEqual(OpenFileLimit.downstreamBudget(limit: 100, workers: 1), 1)
    }
}

final class BackendStateTests: XCTestCase {
    private func pools(_ n: Int) -> [UpstreamPool] {
        (0..<n).map { i in
            let endpoint = EndpointAddress(host: "127.0.0.\(i + 1)", port: 8080)!
            return UpstreamPool(key: PoolKey(endpoint: endpoint, identity: nil), address: SocketAddress(ip: endpoint.host, port: 8080)!, identity: nil)
        }
    }

    private func backend(_ name: String, _ pools: [UpstreamPool], balancing: LoadBalancerKind) -> BackendState {
        let key = ServiceKey(namespace: "default", name: name)
        return BackendState(key: key, pools: pools, balancer: RoundRobin(), counters: ServiceCounters(service: "\(name).default"),
                            remoteAuthority: nil, upstreamCluster: "c1",
                            destination: DestinationPolicy(name: name, namespace: "default", host: key, loadBalancer: balancing))
    }

    func testRoundRobinAndAvoidingTheRefusingEndpoint() {
        var random = SplitMix64(seed: 1)
        let p = pools(3)
        let rr = backend("web", p, balancing: .roundRobin)
        XCTAssertEqual(rr.pickHost(avoiding: nil, random: &random), 0)
        XCTAssertEqual(rr.pickHost(avoiding: nil, random: &random), 1)
        // The next in turn is p[2]; avoiding it moves on to p[0].
        XCTAssertEqual(rr.pickHost(avoiding: p[2], random: &random), 0)
        // With one endpoint, avoiding it still returns it (better than no answer).
        XCTAssertEqual(backend("one", [p[0]], balancing: .roundRobin).pickHost(avoiding: p[0], random: &random), 0)
        XCTAssertNil(backend("none", [], balancing: .leastRequest).pickHost(avoiding: nil, random: &random))
    }

    func testLeastRequestPrefersTheEndpointWithFewerRequestsInFlight() {
        var random = SplitMix64(seed: 2)
        let p = pools(2)
        p[0].activeRequests = 10
        let lr = backend("web", p, balancing: .leastRequest)
        for _ in 0..<100 { XCTAssertEqual(lr.pickHost(avoiding: nil, random: &random), 1) }
        // Random spreads over both.
        let any = backend("web2", p, balancing: .random)
        let picks = Set((0..<100).map { _ in any.pickHost(avoiding: nil, random: &random)! })
        XCTAssertEqual(picks, [0, 1])
    }

    func testEjectedEndpointsAreSkippedUntilAllAreEjected() {
        var random = SplitMix64(seed: 3)
        let p = pools(3)
        let b = backend("web", p, balancing: .roundRobin)
        // The passive check: 5 consecutive local-origin failures eject.
        for _ in 0..<5 { _ = b.outlier.record(host: 0, .localOriginFailure, now: 0) }
        XCTAssertTrue(b.outlier.isEjected(host: 0))
        for _ in 0..<30 { XCTAssertNotEqual(b.pickHost(avoiding: nil, random: &random), 0) }
        for host in 1..<3 { for _ in 0..<5 { _ = b.outlier.record(host: host, .localOriginFailure, now: 0) } }
        // Everything ejected: panic, every endpoint is used rather than none.
        XCTAssertEqual(Set((0..<30).map { _ in b.pickHost(avoiding: nil, random: &random)! }), [0, 1, 2])
    }
}

final class AccessLogFieldsTests: XCTestCase {
    func testHeadFieldsAndRecord() {
        let fields = AccessLogFields(head: HeaderBlock([(":method", "POST"), (":scheme", "http"), ("host", "web:8080"), (":path", "/a?b")]))
        fields.status = 201
        fields.requestBytes = 10
        fields.responseBytes = 20
        fields.upstream = SocketAddress(ip: "10.0.0.7", port: 8443)
        let r = fields.record(cluster: "c1", listener: "outbound", peerIdentity: nil, originalDestination: "240.240.0.9:80",
                              startedAt: 1_000, now: 6_000)
        XCTAssertEqual(r.method, Array("POST".utf8))
        XCTAssertEqual(r.authority, Array("web:8080".utf8))
        XCTAssertEqual(r.path, Array("/a?b".utf8))
        XCTAssertEqual(r.status, 201)
        XCTAssertEqual(r.upstream, "10.0.0.7:8443")
        XCTAssertEqual(r.durationNanos, 5_000)
        XCTAssertEqual(r.requestBytes, 10)
        XCTAssertEqual(r.responseBytes, 20)
        XCTAssertEqual(r.originalDestination, "240.240.0.9:80")
        XCTAssertNil(fields.record(cluster: "c1", listener: "outbound", peerIdentity: nil, originalDestination: nil,
                                   startedAt: 1_000, now: 6_000).originalDestination)
    }
}
