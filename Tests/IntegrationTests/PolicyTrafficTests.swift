import Foundation
import Glibc
import XCTest

/// Issue 8, traffic policy, end to end: HTTPRoute splits and matches, DestinationRule
/// circuit breakers, outlier detection and load balancing, route timeouts and retries, each
/// measured with real processes (nghttpd and Python h2 backends; h2load, nghttp and curl
/// clients) and the sidecar's own `/metrics` and `/config`.
final class PolicyTrafficTests: XCTestCase {
    // MARK: 1. Weighted split

    /// 10,000 requests over a 90/10 split land 90/10 (±2 points), none failing.
    func testNinetyTenSplitOfTenThousandRequests() throws {
        let dir = try TempDir()
        let (webapp, canary) = try twoBackends(dir)
        defer { webapp.stop(); canary.stop() }
        try dir.write("mesh/slices.yaml", slice("webapp", port: webapp.port) + "---\n" + slice("canary", port: canary.port))
        try dir.write("mesh/route.yaml", splitRoute(webapp: 90, canary: 10))
        let sidecar = try meshSidecar(dir, workers: 2)
        defer { sidecar.stop() }

        let load = try h2load(["-n", "10000", "-c", "4", "-m", "16", "-t", "1", "-H", ":authority: webapp", sidecar.url("/id")])
        XCTAssertEqual(load.succeeded, 10_000, load.output)
        XCTAssertEqual(load.failed + load.errored + load.timedOut, 0, load.output)
        XCTAssertEqual(load.status2xx, 10_000, load.output)

        let metrics = try sidecar.admin("/metrics")
        let toWebapp = metricValue(metrics, "causeway_route_backend_requests_total",
                                   ["route": "default/webapp-split", "backend": "webapp.default", "code": "200"])
        let toCanary = metricValue(metrics, "causeway_route_backend_requests_total",
                                   ["route": "default/webapp-split", "backend": "canary.default", "code": "200"])
        XCTAssertEqual(toWebapp + toCanary, 10_000, metrics)
        let canaryPercent = 100 * Double(toCanary) / Double(max(1, toWebapp + toCanary))
        print("90/10 split of 10000: webapp \(toWebapp), canary \(toCanary) (\(String(format: "%.2f", canaryPercent)) % canary)")
        XCTAssertEqual(canaryPercent, 10, accuracy: 2, metrics)
        // The services' own counts agree: every request was served where the split sent it.
        XCTAssertEqual(metricValue(metrics, "causeway_requests_total", ["service": "canary.default", "code": "200"])
                       + metricValue(metrics, "causeway_requests_total", ["service": "webapp.default", "code": "200"]), 10_000, metrics)

        // Bodies agree too: the canary's own content in about one response in ten.
        let bodies = try nghttpBodies(sidecar, authority: "webapp", paths: (1...100).map { "/id?\($0)" })
        XCTAssertEqual(bodies.count, 100, "\(bodies)")
        XCTAssertEqual(Double(bodies.filter { $0 == "canary" }.count), 10, accuracy: 3, "\(bodies)")
    }

    // MARK: 2. Shifting weights under load

    /// 100/0 → 90/10 → 50/50 → 0/100 by rewriting the route file under h2load: nothing fails,
    /// each phase splits as written, and after the last shift every request goes to canary.
    func testWeightsShiftedUnderLoadFailNothing() throws {
        let dir = try TempDir()
        let (webapp, canary) = try twoBackends(dir)
        defer { webapp.stop(); canary.stop() }
        try dir.write("mesh/slices.yaml", slice("webapp", port: webapp.port) + "---\n" + slice("canary", port: canary.port))
        try dir.write("mesh/route.yaml", splitRoute(webapp: 100, canary: 0))
        let sidecar = try meshSidecar(dir, workers: 2)
        defer { sidecar.stop() }
        XCTAssertEqual(try routeWeights(sidecar), [100, 0])

        let load = try TestProcess("h2load", executable: "h2load", arguments: [
            "-D", "7", "-c", "4", "-m", "8", "-t", "1", "-H", ":authority: webapp", sidecar.url("/id"),
        ])
        var shares: [(weights: [Int], webapp: Int, canary: Int)] = []
        func measurePhase(_ weights: [Int]) throws {
            usleep(150_000)  // every worker has installed the new snapshot
            let before = try routeCounts(sidecar)
            usleep(600_000)
            let after = try routeCounts(sidecar)
            shares.append((weights, after.webapp - before.webapp, after.canary - before.canary))
        }
        usleep(300_000)
        try measurePhase([100, 0])
        for weights in [[90, 10], [50, 50], [0, 100]] {
            try dir.write("mesh/route.yaml", splitRoute(webapp: weights[0], canary: weights[1]))
            try waitFor(seconds: 3, sidecar.process) { (try? self.routeWeights(sidecar)) == weights }
            try measurePhase(weights)
        }
        XCTAssertTrue(load.process.isRunning, "every phase was measured under load")
        try load.waitForExit()
        let result = H2LoadResult(load.log)
        print("weight shift under load: \(result.summary); phases (webapp, canary): "
              + shares.map { "\($0.weights[0])/\($0.weights[1]): \($0.webapp)/\($0.canary)" }.joined(separator: ", "))
        XCTAssertEqual(result.failed + result.errored + result.timedOut, 0, load.log)
        XCTAssertEqual(result.status2xx, result.done, load.log)
        XCTAssertGreaterThan(result.succeeded, 1_000, load.log)
        for phase in shares {
            let total = phase.webapp + phase.canary
            XCTAssertGreaterThan(total, 100, "too few requests to judge phase \(phase.weights)")
            XCTAssertEqual(100 * Double(phase.canary) / Double(max(1, total)), Double(phase.weights[1]), accuracy: 3,
                           "phase \(phase.weights): webapp \(phase.webapp), canary \(phase.canary)")
        }
        let reloads = sidecar.process.log.components(separatedBy: "causeway: reloaded").count - 1
        XCTAssertGreaterThanOrEqual(reloads, 3, sidecar.process.log)

        // After the last shift every new request goes to canary.
        let bodies = try nghttpBodies(sidecar, authority: "webapp", paths: (1...40).map { "/id?\($0)" })
        XCTAssertEqual(bodies, Array(repeating: "canary", count: 40))

        // /config shows the route as now written.
        let route = try XCTUnwrap(try routes(sidecar).first { $0["name"] as? String == "webapp-split" })
        XCTAssertEqual(route["namespace"] as? String, "default")
        let parents = (route["parentRefs"] as? [[String: Any]])?.compactMap { $0["service"] as? String }
        XCTAssertEqual(parents, ["webapp.default"])
        let backendRefs = ((route["rules"] as? [[String: Any]])?.first?["backendRefs"] as? [[String: Any]]) ?? []
        XCTAssertEqual(backendRefs.compactMap { $0["service"] as? String }, ["webapp.default", "canary.default"], "\(route)")
        XCTAssertEqual(backendRefs.compactMap { $0["weight"] as? Int }, [0, 100], "\(route)")
    }

    // MARK: 3. Circuit breaker

    /// `http2MaxRequests: 5` with 50 concurrent streams to a backend that takes a second:
    /// exactly 5 are served, 45 answered `503 overflow` at once and counted.
    func testHttp2MaxRequestsAdmitsFiveOfFiftyConcurrentStreams() throws {
        let dir = try TempDir()
        let (slow, slowPort) = try startPeer(["--delay", "1", "--body", "slow\n"])
        defer { slow.stop() }
        try dir.write("mesh/slices.yaml", slice("slow", port: slowPort))
        try dir.write("mesh/rule.yaml", """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: slow }
        spec:
          host: slow.default.svc.cluster.local
          trafficPolicy:
            connectionPool:
              http: { http2MaxRequests: 5 }

        """)
        let sidecar = try meshSidecar(dir, workers: 1)
        defer { sidecar.stop() }

        let started = Date()
        let load = try h2load(["-n", "50", "-c", "1", "-m", "50", "-t", "1", "-H", ":authority: slow", sidecar.url("/x")])
        let elapsed = Date().timeIntervalSince(started)
        print("http2MaxRequests 5, 50 concurrent streams: \(load.summary) in \(String(format: "%.2f", elapsed)) s")
        XCTAssertEqual(load.done, 50, load.output)
        XCTAssertEqual(load.status2xx, 5, load.output)
        XCTAssertEqual(load.status5xx, 45, load.output)
        XCTAssertEqual(requestCount(slow), 5, "the backend saw only the admitted requests:\n\(slow.log)")
        XCTAssertLessThan(elapsed, 4, load.output)
        var metrics = try sidecar.admin("/metrics")
        XCTAssertEqual(metricValue(metrics, "causeway_upstream_rq_overflow_total"), 45, metrics)
        XCTAssertEqual(metricValue(metrics, "causeway_requests_total", ["service": "slow.default", "code": "503"]), 45, metrics)
        XCTAssertEqual(metricValue(metrics, "causeway_requests_total", ["service": "slow.default", "code": "200"]), 5, metrics)
        XCTAssertEqual(metricValue(metrics, "causeway_upstream_rq_retry_total"), 0, "overflow is not retried: \(metrics)")

        // A sample of six at once: five admitted, the sixth refused with the reason.
        let sample = try runCommand("nghttp", ["-v", "-H", ":authority: slow"] + (1...6).map { sidecar.url("/sample?\($0)") }, timeout: 20)
        let statuses = sample.stdoutText.split(separator: "\n").filter { $0.contains("recv (stream_id=") && $0.contains(":status: ") }
        XCTAssertEqual(statuses.filter { $0.hasSuffix("200") }.count, 5, sample.stdoutText)
        XCTAssertEqual(statuses.filter { $0.hasSuffix("503") }.count, 1, sample.stdoutText)
        XCTAssertEqual(sample.stdoutText.components(separatedBy: "x-causeway-reason: overflow").count - 1, 1, sample.stdoutText)
        metrics = try sidecar.admin("/metrics")
        XCTAssertEqual(metricValue(metrics, "causeway_upstream_rq_overflow_total"), 46, metrics)
        XCTAssertEqual(requestCount(slow), 10, slow.log)
    }

    // MARK: 4. Outlier detection

    /// One endpoint of three answers 503 to everything: after three in a row it is ejected,
    /// gets nothing more, clients never see its 503s (retried elsewhere), and the two
    /// healthy endpoints share its traffic.
    func testAnEndpointAnswering503IsEjectedAndItsShareMoves() throws {
        let dir = try TempDir()
        let (a, b) = try twoBackends(dir, names: ("a", "b"))
        defer { a.stop(); b.stop() }
        let (bad, badPort) = try startPeer(["--delay", "0", "--status", "503", "--body", "bad\n"])
        defer { bad.stop() }
        try dir.write("mesh/slices.yaml", [
            slice("webapp", port: a.port, sliceName: "webapp-a"), slice("webapp", port: b.port, sliceName: "webapp-b"),
            slice("webapp", port: badPort, sliceName: "webapp-bad"),
        ].joined(separator: "---\n"))
        try dir.write("mesh/rule.yaml", """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: webapp }
        spec:
          host: webapp
          trafficPolicy:
            outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50 }

        """)
        let sidecar = try meshSidecar(dir, workers: 1)
        defer { sidecar.stop() }

        // Warm-up, one request at a time, until the bad endpoint is ejected.
        var warmup: [String] = []
        for round in 0..<12 {
            let codes = try sequentialCodes(sidecar, authority: "webapp", paths: (1...6).map { "/id?w\(round)-\($0)" })
            warmup += codes
            if metricValue(try sidecar.admin("/metrics"), "causeway_outlier_ejections_total") >= 1 { break }
        }
        let badDuringWarmup = requestCount(bad)
        print("outlier warm-up: \(warmup.count) requests, \(badDuringWarmup) reached the 503 endpoint before its ejection")
        XCTAssertEqual(warmup, Array(repeating: "200", count: warmup.count), "retried elsewhere, no client sees a 503")
        XCTAssertEqual(badDuringWarmup, 3, "ejected after exactly consecutive5xxErrors = 3:\n\(bad.log)")
        var metrics = try sidecar.admin("/metrics")
        XCTAssertEqual(metricValue(metrics, "causeway_outlier_ejections_total"), 1, metrics)
        XCTAssertEqual(metricValue(metrics, "causeway_outlier_ejections_active"), 1, metrics)
        XCTAssertTrue(sidecar.process.log.contains("endpoint 127.0.0.1:\(badPort) ejected"), sidecar.process.log)

        // Load after the ejection: all 200, and the ejected endpoint sees none of it.
        let load = try h2load(["-n", "2000", "-c", "2", "-m", "8", "-t", "1", "-H", ":authority: webapp", sidecar.url("/id")])
        XCTAssertEqual(load.status2xx, 2_000, load.output)
        XCTAssertEqual(load.failed + load.errored + load.timedOut, 0, load.output)
        let bodies = try nghttpBodies(sidecar, authority: "webapp", paths: (1...120).map { "/id?\($0)" })
        let toA = bodies.filter { $0 == "a" }.count, toB = bodies.filter { $0 == "b" }.count
        print("after ejection: h2load \(load.summary); 120 more requests: a \(toA), b \(toB), 503 endpoint \(bodies.count - toA - toB)")
        XCTAssertEqual(toA + toB, 120, "\(bodies)")
        XCTAssertGreaterThan(toA, 30, "both healthy endpoints take the ejected one's share: \(bodies)")
        XCTAssertGreaterThan(toB, 30, "both healthy endpoints take the ejected one's share: \(bodies)")
        XCTAssertEqual(requestCount(bad), badDuringWarmup, "the ejected endpoint received requests:\n\(bad.log)")

        metrics = try sidecar.admin("/metrics")
        XCTAssertEqual(metricValue(metrics, "causeway_outlier_ejections_active"), 1, metrics)
        XCTAssertEqual(metricValue(metrics, "causeway_requests_total", ["service": "webapp.default", "code": "503"]), 0, metrics)
        XCTAssertEqual(metricValue(metrics, "causeway_upstream_rq_retry_total"), 3, "one retry per 503 seen: \(metrics)")
    }

    // MARK: 5. Timeouts and retries

    /// `backendRequest: 300ms` over a slow (3 s) and a fast endpoint, round robin: an attempt
    /// on the slow one times out and is retried on the fast one, so every request gets the
    /// fast one's 200 well under a second. A `request: 500ms` rule whose only backend is slow
    /// answers `504 route-timeout`.
    func testBackendRequestTimeoutRetriesOnTheFastEndpointAndRequestTimeoutAnswers504() throws {
        let dir = try TempDir()
        try dir.write("www-fast/id", "fast\n")
        let fast = try NghttpdBackend(docroot: dir.path("www-fast"))
        defer { fast.stop() }
        let (slow, slowPort) = try startPeer(["--delay", "3", "--body", "slow\n"])
        defer { slow.stop() }
        try dir.write("mesh/slices.yaml", [
            slice("webapp", port: slowPort, sliceName: "webapp-slow"), slice("webapp", port: fast.port, sliceName: "webapp-fast"),
            slice("slowpoke", port: slowPort),
        ].joined(separator: "---\n"))
        try dir.write("mesh/policy.yaml", """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: { name: webapp-timeouts }
        spec:
          parentRefs: [ { group: "", kind: Service, name: webapp } ]
          rules:
          - matches: [ { path: { type: PathPrefix, value: /only-slow } } ]
            backendRefs: [ { name: slowpoke } ]
            timeouts: { request: 500ms }
          - backendRefs: [ { name: webapp } ]
            timeouts: { backendRequest: 300ms }
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: webapp }
        spec:
          host: webapp.default
          trafficPolicy:
            loadBalancer: { simple: ROUND_ROBIN }

        """)
        let sidecar = try meshSidecar(dir, workers: 1)
        defer { sidecar.stop() }

        var times: [Double] = []
        for i in 1...6 {
            let r = try fetch(sidecar, authority: "webapp", path: "/id?\(i)", in: dir)
            XCTAssertEqual(r.status, 200, "\(r)")
            XCTAssertEqual(r.body, "fast\n", "\(r)")
            XCTAssertLessThan(r.seconds, 0.8, "\(r)")
            times.append(r.seconds)
        }
        let slowHits = requestCount(slow)
        var metrics = try sidecar.admin("/metrics")
        let timeouts = metricValue(metrics, "causeway_upstream_rq_timeout_total")
        let retries = metricValue(metrics, "causeway_upstream_rq_retry_total")
        print("backendRequest 300ms: 6 × 200 from fast in " + times.map { String(format: "%.3f", $0) }.joined(separator: ", ")
              + " s; slow endpoint tried \(slowHits) times; timeouts \(timeouts), retries \(retries)")
        XCTAssertGreaterThanOrEqual(slowHits, 1, "round robin sent some attempts to the slow endpoint:\n\(slow.log)")
        XCTAssertEqual(retries, slowHits, metrics)
        XCTAssertEqual(timeouts, slowHits, "each attempt that hit backendRequest is counted: \(metrics)")
        XCTAssertTrue(times.contains { $0 >= 0.3 }, "a timed-out attempt took its 300 ms: \(times)")
        // Timeouts are local-origin failures: the passive check ejects the slow endpoint after 5.
        XCTAssertEqual(metricValue(metrics, "causeway_outlier_ejections_total"), slowHits >= 5 ? 1 : 0, metrics)

        let r = try fetch(sidecar, authority: "webapp", path: "/only-slow/x", in: dir)
        print("request 500ms to the slow backend only: \(r.status) \(r.headers["x-causeway-reason"] ?? "-") in \(String(format: "%.3f", r.seconds)) s")
        XCTAssertEqual(r.status, 504, "\(r)")
        XCTAssertEqual(r.headers["x-causeway-reason"], "route-timeout", "\(r)")
        XCTAssertGreaterThanOrEqual(r.seconds, 0.45, "\(r)")
        XCTAssertLessThan(r.seconds, 1.5, "\(r)")
        XCTAssertEqual(requestCount(slow), slowHits + 1, slow.log)
        metrics = try sidecar.admin("/metrics")
        XCTAssertEqual(metricValue(metrics, "causeway_request_timeouts_total"), 1, metrics)
    }

    // MARK: 6. Matches

    /// A request matching no rule gets `404 no-route`; a header match and a path prefix go to
    /// the canary; a backendRef to an unknown Service gives `503 no-healthy-upstream` and is
    /// reported in the log and shown in `/config`.
    /// An endpoint that dies with requests in flight: every idempotent one is replayed on
    /// the other endpoint (not only the three the retry budget would allow), 0 failed.
    func testRequestsInFlightOnADyingEndpointAreAllReplayed() throws {
        let dir = try TempDir()
        try dir.write("www-fast/id", "fast\n")
        let fast = try NghttpdBackend(docroot: dir.path("www-fast"))
        defer { fast.stop() }
        let (slow, slowPort) = try startPeer(["--delay", "3", "--body", "slow\n"])
        defer { slow.stop() }
        try dir.write("mesh/slices.yaml", [
            slice("webapp", port: slowPort, sliceName: "webapp-slow"), slice("webapp", port: fast.port, sliceName: "webapp-fast"),
        ].joined(separator: "---\n") + """
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: { name: webapp }
        spec:
          host: webapp.default
          trafficPolicy:
            loadBalancer: { simple: ROUND_ROBIN }

        """)
        let sidecar = try meshSidecar(dir, workers: 1)
        defer { sidecar.stop() }
        // 20 requests at once on one connection: about half wait on the slow endpoint.
        let load = try TestProcess("h2load", executable: "h2load", arguments: [
            "-n", "20", "-c", "1", "-m", "20", "-t", "1", "-H", ":authority: webapp", sidecar.url("/id"),
        ])
        try waitFor(seconds: 5, slow) { self.requestCount(slow) >= 5 }
        slow.stop()  // its connections close with the requests unanswered
        try load.waitForExit()
        XCTAssertTrue(load.log.contains("20 succeeded, 0 failed, 0 errored"), load.log + sidecar.process.log)
        XCTAssertTrue(load.log.contains("20 2xx"), load.log)
    }

    func testMatchesRouteToCanaryAndUnknownBackendsAnswer503() throws {
        let dir = try TempDir()
        let (webapp, canary) = try twoBackends(dir)
        defer { webapp.stop(); canary.stop() }
        try dir.write("mesh/slices.yaml", slice("webapp", port: webapp.port) + "---\n" + slice("canary", port: canary.port))
        try dir.write("mesh/route.yaml", """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: { name: webapp-matches }
        spec:
          parentRefs: [ { group: "", kind: Service, name: webapp } ]
          rules:
          - matches: [ { path: { type: PathPrefix, value: /app }, headers: [ { name: x-canary, value: "1" } ] } ]
            backendRefs: [ { name: canary } ]
          - matches: [ { path: { type: PathPrefix, value: /canary } } ]
            backendRefs: [ { name: canary } ]
          - matches: [ { path: { type: PathPrefix, value: /app } } ]
            backendRefs: [ { name: webapp } ]
          - matches: [ { path: { type: Exact, value: /ghost } } ]
            backendRefs: [ { name: ghost } ]

        """)
        let sidecar = try meshSidecar(dir, workers: 2)
        defer { sidecar.stop() }

        func check(_ path: String, _ headers: [String] = [], status: Int, body: String? = nil, reason: String? = nil,
                   line: UInt = #line) throws {
            let r = try fetch(sidecar, authority: "webapp", path: path, headers: headers, in: dir)
            XCTAssertEqual(r.status, status, "\(path) \(headers): \(r)", line: line)
            if let body {
                XCTAssertEqual(r.body, body + "\n", "\(path) \(headers): \(r)", line: line)
                XCTAssertEqual(r.headers["x-causeway-upstream-cluster"], "test-cluster", "\(path) \(headers): \(r)", line: line)
            }
            XCTAssertEqual(r.headers["x-causeway-reason"], reason, "\(path) \(headers): \(r)", line: line)
        }
        try check("/app/id", status: 200, body: "webapp")
        try check("/app/id", ["x-canary: 1"], status: 200, body: "canary")
        try check("/app/id", ["X-Canary: 1"], status: 200, body: "canary")
        try check("/app/id", ["x-canary: 2"], status: 200, body: "webapp")
        try check("/app/id", ["x-canary: 10"], status: 200, body: "webapp")
        try check("/canary/id", status: 200, body: "canary")
        try check("/canary/id", ["x-canary: 1"], status: 200, body: "canary")
        try check("/canaryx/id", status: 404, reason: "no-route")
        try check("/other", status: 404, reason: "no-route")
        try check("/other", ["x-canary: 1"], status: 404, reason: "no-route")
        try check("/ghost", status: 503, reason: "no-healthy-upstream")

        // The unknown backend is shown in /config, and named in /endpoints' notes.
        let endpoints = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try sidecar.admin("/endpoints").utf8)) as? [String: Any])
        let notes = (endpoints["notes"] as? [String]) ?? []
        XCTAssertTrue(notes.contains { $0.hasPrefix("HTTPRoute default/webapp-matches: backendRef ghost.default names no known Service") },
                      "\(endpoints)")
        let route = try XCTUnwrap(try routes(sidecar).first { $0["name"] as? String == "webapp-matches" })
        let backends = ((route["rules"] as? [[String: Any]]) ?? []).flatMap { ($0["backendRefs"] as? [[String: Any]]) ?? [] }
        XCTAssertEqual(backends.compactMap { $0["service"] as? String },
                       ["canary.default", "canary.default", "webapp.default", "ghost.default"], "\(route)")
        let metrics = try sidecar.admin("/metrics")
        XCTAssertEqual(metricValue(metrics, "causeway_route_backend_requests_total",
                                   ["route": "default/webapp-matches", "backend": "canary.default", "code": "200"]), 4, metrics)
        XCTAssertEqual(metricValue(metrics, "causeway_route_backend_requests_total",
                                   ["route": "default/webapp-matches", "backend": "webapp.default", "code": "200"]), 3, metrics)
        XCTAssertEqual(metricValue(metrics, "causeway_requests_total", ["service": "webapp.default", "code": "404"]), 3, metrics)
    }

    // MARK: Helpers

    /// Two nghttpd backends whose every path used here (`/id`, `/app/id`, `/canary/id`)
    /// answers the backend's name and a newline.
    private func twoBackends(_ dir: TempDir, names: (String, String) = ("webapp", "canary")) throws -> (NghttpdBackend, NghttpdBackend) {
        for name in [names.0, names.1] {
            for path in ["id", "app/id", "canary/id"] { try dir.write("www-\(name)/\(path)", name + "\n") }
        }
        let first = try NghttpdBackend(docroot: dir.path("www-\(names.0)"))
        do {
            return (first, try NghttpdBackend(docroot: dir.path("www-\(names.1)")))
        } catch {
            first.stop()
            throw error
        }
    }

    /// A sidecar reading the resources written under `mesh/` (written before it starts).
    private func meshSidecar(_ dir: TempDir, workers: Int) throws -> CausewaySidecar {
        try CausewaySidecar(dir: dir, services: [:], workers: workers, extraProxySpec: "  resources: [ mesh/ ]")
    }

    /// An EndpointSlice of `service` with one endpoint, 127.0.0.1:`port`. Several slices of
    /// one service (distinct `sliceName`s) give it endpoints on several ports.
    private func slice(_ service: String, port: UInt16, sliceName: String? = nil) -> String {
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: \(sliceName ?? service + "-1"), labels: { kubernetes.io/service-name: \(service) } }
        addressType: IPv4
        ports: [ { name: http, port: \(port), protocol: TCP, appProtocol: kubernetes.io/h2c } ]
        endpoints: [ { addresses: [ "127.0.0.1" ], conditions: { ready: true } } ]

        """
    }

    /// HTTPRoute `webapp-split`: requests to `webapp` split between `webapp` and `canary`.
    private func splitRoute(webapp: Int, canary: Int) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: { name: webapp-split, namespace: default }
        spec:
          parentRefs: [ { group: "", kind: Service, name: webapp } ]
          rules:
          - backendRefs:
            - { name: webapp, port: 8080, weight: \(webapp) }
            - { name: canary, port: 8080, weight: \(canary) }

        """
    }

    /// Starts `Peers/slow_server.py` on a port of its choosing.
    private func startPeer(_ arguments: [String]) throws -> (TestProcess, UInt16) {
        let peer = try PythonPeer.start("slow_server.py", arguments)
        do {
            let listening = try PythonPeer.wait(for: peer, timeout: 10) { $0.int("listening") != nil }
            return (peer, UInt16(listening.int("listening")!))
        } catch {
            peer.stop()
            throw error
        }
    }

    /// Requests the slow server has received so far.
    private func requestCount(_ peer: TestProcess) -> Int {
        PythonPeer.lines(of: peer).compactMap { $0.int("request") }.max() ?? 0
    }

    /// `/config`'s `routes`.
    private func routes(_ sidecar: CausewaySidecar) throws -> [[String: Any]] {
        let data = Data(try sidecar.admin("/config").utf8)
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(config["routes"] as? [[String: Any]], "\(config)")
    }

    /// The weights of `webapp-split`'s backends as `/config` shows them.
    private func routeWeights(_ sidecar: CausewaySidecar) throws -> [Int] {
        let route = try XCTUnwrap(try routes(sidecar).first { $0["name"] as? String == "webapp-split" })
        let refs = ((route["rules"] as? [[String: Any]])?.first?["backendRefs"] as? [[String: Any]]) ?? []
        return refs.compactMap { $0["weight"] as? Int }
    }

    /// `webapp-split`'s 200s per backend so far.
    private func routeCounts(_ sidecar: CausewaySidecar) throws -> (webapp: Int, canary: Int) {
        let metrics = try sidecar.admin("/metrics")
        func count(_ backend: String) -> Int {
            metricValue(metrics, "causeway_route_backend_requests_total", ["route": "default/webapp-split", "backend": backend, "code": "200"])
        }
        return (count("webapp.default"), count("canary.default"))
    }

    /// The sum of the series of metric `name` whose labels include `labels` (0 if none).
    private func metricValue(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Int {
        var total = 0.0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "),
                  labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }),
                  let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            total += value
        }
        return Int(total)
    }

    /// The bodies (each one line, newline dropped) of GETs of `paths` sent at once on one
    /// nghttp connection.
    private func nghttpBodies(_ sidecar: CausewaySidecar, authority: String, paths: [String]) throws -> [String] {
        let r = try runCommand("nghttp", ["-H", ":authority: \(authority)"] + paths.map { sidecar.url($0) }, timeout: 30)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdoutText.split(separator: "\n").map(String.init)
    }

    /// Status codes of GETs of `paths`, one after another (a curl each: curl 7.88 does not
    /// reuse a prior-knowledge connection for several URLs).
    private func sequentialCodes(_ sidecar: CausewaySidecar, authority: String, paths: [String]) throws -> [String] {
        try paths.map { path in
            try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--max-time", "10", "-H", "host: \(authority)",
                                    "-o", "/dev/null", "-w", "%{http_code}", sidecar.url(path)], timeout: 20).stdoutText
        }
    }

    /// One response, as curl saw it.
    private struct Response: CustomStringConvertible {
        var status: Int
        var headers: [String: String]
        var body: String
        var seconds: Double
        var description: String { "\(status) \(headers) \(body.debugDescription) in \(String(format: "%.3f", seconds)) s" }
    }

    /// GET `path` of `authority` through the sidecar with curl (prior-knowledge h2c).
    private func fetch(_ sidecar: CausewaySidecar, authority: String, path: String, headers: [String] = [], in dir: TempDir) throws -> Response {
        let id = UUID().uuidString
        let headerFile = dir.path("curl-\(id).headers"), bodyFile = dir.path("curl-\(id).body")
        let r = try runCommand("curl", ["-sS", "--http2-prior-knowledge", "--max-time", "10", "-H", "host: \(authority)"]
                               + headers.flatMap { ["-H", $0] }
                               + ["-D", headerFile, "-o", bodyFile, "-w", "%{http_code} %{time_total}", sidecar.url(path)], timeout: 20)
        let parts = r.stdoutText.split(separator: " ")
        guard r.status == 0, parts.count == 2, let status = Int(parts[0]), let seconds = Double(parts[1]) else {
            throw HarnessError("curl \(path): exit \(r.status), \(r.stdoutText) \(r.stderr)")
        }
        var fields: [String: String] = [:]
        for line in ((try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? "").split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("HTTP/") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = (try? String(contentsOfFile: bodyFile, encoding: .utf8)) ?? ""
        return Response(status: status, headers: fields, body: body, seconds: seconds)
    }

    /// Runs h2load to completion.
    private func h2load(_ arguments: [String]) throws -> H2LoadResult {
        let r = try runCommand("h2load", arguments, timeout: 120)
        return H2LoadResult(r.stdoutText + r.stderr)
    }

    private func waitFor(seconds: Double, _ process: TestProcess, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { throw HarnessError("condition not met within \(seconds) s:\n\(process.log)") }
            usleep(20_000)
        }
    }
}

/// The counts in h2load's summary.
private struct H2LoadResult {
    let output: String
    var done = 0, succeeded = 0, failed = 0, errored = 0, timedOut = 0
    var status2xx = 0, status3xx = 0, status4xx = 0, status5xx = 0

    init(_ output: String) {
        self.output = output
        func number(_ line: Substring, before word: String) -> Int {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "," })
            guard let i = words.firstIndex(where: { $0 == word }), i > words.startIndex else { return 0 }
            return Int(words[words.index(before: i)]) ?? 0
        }
        for line in output.split(separator: "\n") {
            if line.hasPrefix("requests:") {
                done = number(line, before: "done")
                succeeded = number(line, before: "succeeded")
                failed = number(line, before: "failed")
                errored = number(line, before: "errored")
                timedOut = number(line, before: "timeout")
            } else if line.hasPrefix("status codes:") {
                status2xx = number(line, before: "2xx")
                status3xx = number(line, before: "3xx")
                status4xx = number(line, before: "4xx")
                status5xx = number(line, before: "5xx")
            }
        }
    }

    var summary: String {
        "\(done) done, \(succeeded) succeeded, \(failed) failed, \(errored) errored, \(timedOut) timeout; "
            + "\(status2xx) 2xx, \(status3xx) 3xx, \(status4xx) 4xx, \(status5xx) 5xx"
    }
}
