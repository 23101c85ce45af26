import CausewayHTTP
import CausewayLoop
import CausewayMesh

/// Attempts of one request: their bookkeeping (requests in flight per endpoint, breaker
/// units), the outcomes fed to outlier detection, route timeouts, and retries.
///
/// Retries (`RetryRules`): on a connect failure, a refused stream, a reset before the
/// response, a per-attempt timeout, and the policy's status codes (default 503 for GET,
/// HEAD, OPTIONS, PUT, DELETE) — only before any response byte went downstream, so the
/// client never sees a retried attempt's partial response. Bounded by the policy's
/// attempts, the retry budget (20% of requests in flight, at least 3) and the breaker's
/// `maxRetries`; delayed by a jittered backoff; sent to another endpoint (and another
/// cluster of a clusterset) when one is left. A request body is kept for a replay up to
/// `replayLimit` bytes; a larger one is retried only if none of it was sent.
extension Forwarder {
    /// Request body bytes kept per request for a retry.
    static let replayLimit = 64 << 10
    /// Replays of refused streams per request.
    static let transparentRetryLimit = 3

    // MARK: Bookkeeping

    /// An attempt went out on `pool`.
    func attemptStarted(_ stream: ProxyStream, pool: UpstreamPool) {
        pool.activeRequests += 1
        stream.attemptPool = pool
        stream.attemptActive = true
        armAttemptTimer(stream)
    }

    /// The attempt no longer waits for its connection: its `pending` unit goes back.
    func releasePending(_ stream: ProxyStream) {
        stream.pendingLoad?.breaker.release(.pending)
        stream.pendingLoad = nil
    }

    /// The current attempt is over (response done, failed, or abandoned).
    func attemptEnded(_ stream: ProxyStream) {
        releasePending(stream)
        if let timer = stream.attemptTimer {
            worker.loop.cancel(timer)
            stream.attemptTimer = nil
        }
        guard stream.attemptActive else { return }
        stream.attemptActive = false
        stream.attemptPool?.activeRequests -= 1
    }

    /// The request is over (its downstream stream closed): everything it held goes back.
    func finished(_ stream: ProxyStream) {
        attemptEnded(stream)
        for timer in [stream.requestTimer, stream.retryTimer].compactMap({ $0 }) { worker.loop.cancel(timer) }
        stream.requestTimer = nil
        stream.retryTimer = nil
        guard let load = stream.heldBackend?.load else { return }
        if stream.holdsRequest {
            stream.holdsRequest = false
            load.breaker.release(.requests)
            load.activeRequests -= 1
        }
        if stream.holdsRetry {
            stream.holdsRetry = false
            load.breaker.release(.retries)
            load.activeRetries -= 1
        }
        stream.heldBackend = nil
    }

    /// Feeds an attempt's outcome to its service's outlier detection.
    func record(_ stream: ProxyStream, _ outcome: OutlierOutcome) {
        guard let backend = stream.backend, stream.host >= 0, stream.host < backend.pools.count else { return }
        if backend.outlier.record(host: stream.host, outcome, now: worker.loop.now) {
            worker.metrics.increment(.outlierEjections)
            worker.log("service \(backend.key): endpoint \(backend.pools[stream.host].address) ejected after consecutive failures",
                       limitedBy: "outlier-ejection")
        }
    }

    /// The worker's sweep: ejections that are due end.
    func sweepEjections(now: UInt64) {
        for backend in backends where backend.outlier.ejectedCount > 0 {
            for host in backend.outlier.sweep(now: now) where host < backend.pools.count {
                worker.log("service \(backend.key): endpoint \(backend.pools[host].address) returns from ejection", limitedBy: "outlier-ejection")
            }
        }
    }

    /// Every ejected endpoint now: service, address, times ejected, milliseconds left.
    func ejections(now: UInt64) -> [EjectedEndpoint] {
        var out: [EjectedEndpoint] = []
        for backend in backends where backend.outlier.ejectedCount > 0 {
            for host in backend.pools.indices where backend.outlier.isEjected(host: host) {
                let ends = backend.outlier.ejectionEnds(host: host) ?? now
                out.append(EjectedEndpoint(service: backend.key.description, endpoint: backend.pools[host].address.description,
                                           worker: worker.index, ejections: backend.outlier.ejections(host: host),
                                           remainingMillis: Int((ends > now ? ends - now : 0) / 1_000_000)))
            }
        }
        return out
    }

    /// Ejected endpoints now, across services.
    var ejectedEndpoints: Int { backends.reduce(0) { $0 + $1.outlier.ejectedCount } }

    // MARK: Timeouts

    /// The route's whole-request timeout: `504 route-timeout`, or a reset once the response
    /// started.
    func armRequestTimer(_ stream: ProxyStream) {
        guard let nanos = stream.rule?.timeouts.requestNanos, nanos > 0 else { return }
        stream.requestTimer = worker.loop.schedule(after: nanos) { [self] in
            stream.requestTimer = nil
            guard stream.state != .done else { return }
            worker.metrics.increment(.requestTimeouts)
            if let timer = stream.retryTimer { worker.loop.cancel(timer); stream.retryTimer = nil }
            attemptEnded(stream)
            Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
            if stream.state == .responding {
                stream.downstream.reset(stream, errorCode: H2ErrorCode.cancel)
            } else {
                stream.downstream.fail(stream, .routeTimeout)
            }
        }
    }

    /// The rule's per-attempt timeout: the attempt is abandoned and retried if allowed,
    /// else `504 upstream-timeout`.
    private func armAttemptTimer(_ stream: ProxyStream) {
        guard let nanos = stream.rule?.timeouts.backendRequestNanos, nanos > 0 else { return }
        stream.attemptTimer = worker.loop.schedule(after: nanos) { [self] in
            stream.attemptTimer = nil
            if stream.state == .responding {
                // The response started but did not finish in time: too late to retry.
                worker.metrics.increment(.upstreamTimeouts)
                stream.resetForUpstream = true
                stream.downstream.reset(stream, errorCode: H2ErrorCode.cancel)
                Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
                return
            }
            guard stream.state == .awaitingResponse else { return }
            // Counted per attempt that hit the timeout, retried or not.
            worker.metrics.increment(.upstreamTimeouts)
            let pool = stream.attemptPool
            record(stream, .localOriginFailure)
            Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
            if retry(stream, after: .timeout, avoiding: pool) { return }
            stream.downstream.fail(stream, .upstreamTimeout)
        }
    }

    // MARK: Responses

    /// What to do with a response head that just arrived for an attempt.
    enum ResponseDecision {
        /// Send it downstream.
        case relay
        /// It was dropped and the request is being retried.
        case retrying
    }

    /// Feeds the response's status to outlier detection and retries it when the policy
    /// says so (nothing of it has gone downstream yet).
    func responseStarted(_ stream: ProxyStream, status: Int, head: HeaderBlock, endStream: Bool) -> ResponseDecision? {
        if status >= 500 {
            record(stream, .serverError(status: status))
        } else if head.isGRPC {
            // gRPC reports failures in grpc-status: in these headers (trailers-only) or in
            // the trailers.
            if endStream { record(stream, .grpc(status: head.grpcStatus ?? 0)) } else { stream.grpcPending = true }
        } else {
            record(stream, .success)
        }
        guard status >= 500 || (stream.rule?.retry.codes.contains(status) ?? false) else { return .relay }
        let pool = stream.attemptPool
        let retried = retry(stream, after: .status(status), avoiding: pool) {
            Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
        }
        return retried ? .retrying : .relay
    }

    // MARK: Retries

    /// Whether the attempt that just failed with `failure` is retried: if so a retry is
    /// scheduled and true returned; else the caller answers the request. The attempt's
    /// upstream stream must already be gone (closed or cancelled).
    ///
    /// `prepare` runs once the retry is certain, before it is scheduled: a response being
    /// retried is abandoned there (until then it may still be relayed).
    ///
    /// `transparent`: replay outside the policy and budget (the caller knows the request is
    /// safe to send again and the failure says nothing about load: its connection died).
    func retry(_ stream: ProxyStream, after failure: AttemptFailure, avoiding pool: UpstreamPool?, transparent: Bool = false,
               prepare: () -> Void = {}) -> Bool {
        guard stream.state == .routing || stream.state == .awaitingResponse, !stream.downstream.isClosed,
              let backend = stream.backend, let headers = stream.requestHeaders else { return false }
        // A refused stream (GOAWAY, REFUSED_STREAM: a draining or restarting upstream) or a
        // connection that could not be made never reached the upstream: replayed at once on
        // another endpoint (another cluster of a clusterset), outside the retry policy and
        // budget, like Envoy's transparent retries, a few times at most. Every request
        // queued on a connection to a dead endpoint fails at once; the budget would let
        // only three of them through.
        if transparent || failure == .refusedStream || failure == .connectFailure, stream.transparentRetries < Self.transparentRetryLimit
            && (stream.requestBytesReceived == 0 || stream.replay != nil) {
            prepare()
            attemptEnded(stream)
            stream.transparentRetries += 1
            stream.state = .routing
            stream.upstream = nil
            stream.responseCreditConnection = nil
            stream.creditToSkip = stream.replay?.count ?? 0
            stream.requestBytesForwarded = 0
            startAttempt(stream, headers: headers, backend: nextBackend(stream, after: backend, headers: headers), avoiding: pool)
            return true
        }
        let policy = stream.rule?.retry ?? .standard
        guard stream.retries < policy.attempts,
              headers.withValue(of: ":method", { RetryRules.shouldRetry(failure, method: $0, policy: policy) }) == true,
              // The body must be whole for a replay: kept, or none received yet.
              stream.requestBytesReceived == 0 || stream.replay != nil
        else { return false }
        let load = (stream.heldBackend ?? backend).load
        if !stream.holdsRetry {
            guard RetryBudget().allows(activeRequests: load.activeRequests, activeRetries: load.activeRetries),
                  load.breaker.tryAcquire(.retries) else {
                worker.metrics.increment(.retryOverflows)
                return false
            }
            stream.holdsRetry = true
            load.activeRetries += 1
        }
        prepare()
        attemptEnded(stream)
        stream.retries += 1
        worker.metrics.increment(.retries)
        stream.state = .routing
        stream.upstream = nil
        stream.responseCreditConnection = nil
        // Every body byte sent so far was credited back to the client already (framed or
        // dropped): the replay must not credit them twice.
        stream.creditToSkip = stream.replay?.count ?? 0
        stream.requestBytesForwarded = 0
        let delay = RetryBackoff.delayNanos(retry: stream.retries, baseNanos: policy.backoffBaseNanos,
                                            maxNanos: policy.backoffMaxNanos, random: random.next())
        stream.retryTimer = worker.loop.schedule(after: max(delay, 1)) { [self] in
            stream.retryTimer = nil
            guard stream.state == .routing, !stream.downstream.isClosed else { return }
            startAttempt(stream, headers: headers, backend: nextBackend(stream, after: backend, headers: headers), avoiding: pool)
        }
        return true
    }

    /// Where a retry goes: for a clusterset name, another cluster if one can take it; else
    /// the same service in the newest snapshot (its endpoints may have changed).
    private func nextBackend(_ stream: ProxyStream, after backend: BackendState, headers: HeaderBlock) -> BackendState {
        // The clusterset as the newest snapshot has it (members' endpoints may have changed).
        let current = stream.clusterset.flatMap { backendsByKey[$0.key] } ?? stream.clusterset
        if let clusterset = current?.clusterset,
           let member = clusterset.pick(port: Route.authorityPort(headers), random: &random, avoiding: backend) {
            return member
        }
        return backendsByKey[backend.key] ?? backend
    }
}
