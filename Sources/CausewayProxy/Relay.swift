import CausewayHTTP
import CausewayMesh

/// relay: the only place that moves a request's head, body, trailers, resets and window
/// credit between its downstream stream and its upstream attempt.
///
/// The connections report what their peer did (`DownstreamConnection.handle`,
/// `UpstreamConnection.handle`) and act through the protocol-neutral `RelayDownstream` and
/// `RelayUpstream` (respond / send body / finish / reset / return credit); neither touches
/// the other's session, and an HTTP/1.1 codec plugs in by conforming to them.
///
/// Credit rules (why a slow client cannot stall others):
/// - request bytes: credit goes back to the downstream when the upstream session framed
///   them (`requestSent`), or at once when nobody will forward them;
/// - response bytes: the upstream *connection*'s window is returned as they arrive
///   (`UpstreamConnection`), the upstream *stream*'s window when the downstream framed
///   them (`responseSent`). Memory is bounded by the stream window per stream and by
///   `ProxyLimits.maxBufferedResponseBytesPerConnection` per client connection.
enum Relay {
    // MARK: Request direction

    /// Request body bytes from the client.
    static func requestData(_ s: ProxyStream, _ bytes: UnsafeRawBufferPointer, now: UInt64) {
        s.lastProgress = now
        s.access?.requestBytes &+= UInt64(bytes.count)
        s.requestBytesReceived += bytes.count
        // Keep a bounded copy for a retry; past the bound, only an unsent body may be retried.
        if s.replay != nil {
            if s.replay!.count + bytes.count <= Forwarder.replayLimit {
                s.replay!.append(contentsOf: bytes)
            } else {
                s.replay = nil
                if let timer = s.retryTimer {
                    // A retry was waiting for its backoff, but the body it would replay is
                    // no longer whole: it cannot be made.
                    s.downstream.worker.loop.cancel(timer)
                    s.retryTimer = nil
                    s.downstream.worker.metrics.increment(.retryOverflows)
                    s.downstream.returnRequestCredit(s, count: bytes.count)
                    s.downstream.fail(s, .upstreamReset)
                    return
                }
            }
        }
        // Forward while the upstream stream is open, even after the response ended: a
        // request body must not be cut short behind a clean END_STREAM.
        if let body = s.requestBody, let up = s.upstream, !up.isClosed {
            s.requestBytesForwarded += bytes.count
            up.sendRequestBody(bytes, on: body)
        } else {
            // Nobody will forward these bytes now: give the credit back. A retry waiting for
            // its backoff replays them later, and must not credit them again then.
            if s.replay != nil && s.state == .routing && s.isReplay { s.creditToSkip += bytes.count }
            s.downstream.returnRequestCredit(s, count: bytes.count)
        }
    }

    /// The client ended its request, with trailers or without.
    static func requestEnd(_ s: ProxyStream, trailers: HeaderBlock?) {
        s.requestEnded = true
        if s.replay != nil, let trailers { s.replayTrailers = trailers }
        guard let body = s.requestBody, let up = s.upstream, !up.isClosed else { return }
        // Trailers carry no identity: only the proxy sets x-forwarded-client-cert, and
        // only in the header block.
        up.finishRequest(body, trailers: trailers?.removingAll(named: RequestRewrite.forwardedClientCertName))
    }

    /// The upstream session framed `count` request bytes: return them to the client.
    static func requestSent(_ s: ProxyStream, count: Int, now: UInt64) {
        guard isLive(s) else { return }
        s.lastProgress = now
        // A retry's replayed bytes were credited with the first attempt.
        let skip = min(count, s.creditToSkip)
        s.creditToSkip -= skip
        if count > skip { s.downstream.returnRequestCredit(s, count: count - skip) }
    }

    // MARK: Response direction

    /// Response headers (or trailers, which have no `:status`) from the upstream.
    static func responseHead(_ s: ProxyStream, _ block: HeaderBlock, endStream: Bool, now: UInt64) {
        guard isLive(s) else { return }
        s.lastProgress = now
        guard let status = block.status else {
            if s.state == .responding { responseEnd(s, trailers: block) }
            return
        }
        // Informational responses (100 Continue, 103) are not relayed in this version.
        if status < 200 { return }
        if s.state == .awaitingResponse, let decision = s.downstream.worker.forwarder.responseStarted(s, status: status, head: block,
                                                                                                    endStream: endStream),
           decision == .retrying {
            return
        }
        s.downstream.respond(s, headers: block, endStream: endStream, status: status)
        if endStream { s.responseEnded = true }
    }

    /// Response body bytes from the upstream. Returns false when they were not queued for
    /// the client (the caller returns their stream credit at once).
    static func responseData(_ s: ProxyStream, _ bytes: UnsafeRawBufferPointer, now: UInt64) -> Bool {
        guard isLive(s), s.state == .responding, let body = s.responseBody else { return false }
        s.lastProgress = now
        if !s.downstream.sendResponseBody(bytes, on: body) {
            // The client's connection holds too much unread response: this stream goes.
            s.downstream.worker.metrics.increment(.responseBufferOverflows)
            s.downstream.reset(s, errorCode: H2ErrorCode.internalError)
            cancelUpstream(s, errorCode: H2ErrorCode.cancel)
            return false
        }
        return true
    }

    /// The upstream ended its response.
    static func responseEnd(_ s: ProxyStream, trailers: HeaderBlock?) {
        guard isLive(s) else { return }
        s.responseEnded = true
        if s.grpcPending {
            s.grpcPending = false
            s.downstream.worker.forwarder.record(s, OutlierOutcome.grpc(status: trailers?.grpcStatus ?? 0))
        }
        guard s.state == .responding, let body = s.responseBody else { return }
        s.state = .done
        s.downstream.finishResponse(body, trailers: trailers)
    }

    /// The client's session framed `count` response bytes: that much of the upstream
    /// stream's window may go back.
    static func responseSent(_ s: ProxyStream, count: Int, now: UInt64) {
        s.lastProgress = now
        s.access?.responseBytes &+= UInt64(count)
        guard let credit = s.responseCreditConnection else { return }
        s.downstream.responseBytesLeft(count)
        if !credit.isClosed { credit.returnResponseCredit(s, count: count) }
    }

    // MARK: Ends

    /// The client's stream closed: normally after the response, or early (cancel, error).
    /// From here on the stream is gone for the upstream side: it is detached from its
    /// upstream connection now, even from one that is closing (see `ProxyStream.downstream`).
    static func downstreamClosed(_ s: ProxyStream, errorCode: UInt32) {
        let unfinished = s.state != .done
        s.state = .done
        s.downstreamGone = true
        if s.responseCreditConnection != nil, let body = s.responseBody {
            // Response bytes buffered for the client will never be framed; the upstream
            // stream is reset below, so only our accounting needs them back.
            s.downstream.responseBytesLeft(body.discard())
        }
        s.responseCreditConnection = nil
        if let up = s.upstream, !up.isClosed {
            // Still open upstream: either the response is unfinished (client cancel) or the
            // request body is still going out, which nobody needs any more.
            if unfinished || !s.responseEnded { s.downstream.worker.metrics.increment(.streamsReset) }
            cancelUpstream(s, errorCode: errorCode == 0 ? H2ErrorCode.cancel : errorCode)
        }
        s.downstream.worker.forwarder.finished(s)
    }

    /// The upstream stream closed: normally, or by reset, GOAWAY or connection loss.
    /// `connectionLost`: the whole connection went away (the endpoint died or dropped it),
    /// not a reset of this stream.
    static func upstreamClosed(_ s: ProxyStream, errorCode: UInt32, pool: UpstreamPool, connectionLost: Bool = false) {
        guard isLive(s) else { return }
        s.upstream = nil
        // Request bytes buffered for the upstream will never be framed: return them.
        releaseQueuedRequest(s, from: nil)
        let forwarder: Forwarder = s.downstream.worker.forwarder
        forwarder.attemptEnded(s)
        switch s.state {
        case .done:
            return
        case .routing, .awaitingResponse:
            if let failure = s.upstreamFailure {
                s.downstream.fail(s, failure)
                return
            }
            // Refused (GOAWAY / REFUSED_STREAM): never processed, the endpoint is not at fault.
            let refused = errorCode == H2ErrorCode.refusedStream
            if !refused { forwarder.record(s, .localOriginFailure) }
            // An idempotent request on a connection that died is replayed like one that never
            // reached it: every request in flight there fails at once when an endpoint dies.
            let lost = connectionLost && (s.requestHeaders?.withValue(of: ":method") { RetryRules.isIdempotent(method: $0) } ?? false)
            if forwarder.retry(s, after: refused ? .refusedStream : .resetBeforeResponse, avoiding: pool, transparent: lost) { return }
            s.downstream.fail(s, refused ? .upstreamRefused : .upstreamReset)
        case .responding:
            if errorCode == 0 && s.responseEnded { return }
            s.resetForUpstream = true
            s.downstream.reset(s, errorCode: errorCode == 0 ? H2ErrorCode.internalError : errorCode)
        }
    }

    /// The upstream connection failed before the stream got anywhere (connect, TLS), or
    /// none could be had (`connection` nil).
    static func upstreamFailed(_ s: ProxyStream, _ failure: ProxyFailure, connection: (any RelayUpstream)?, pool: UpstreamPool) {
        guard isLive(s) else { return }
        releaseQueuedRequest(s, from: connection)
        s.upstream = nil
        let forwarder: Forwarder = s.downstream.worker.forwarder
        forwarder.attemptEnded(s)
        if failure == .upstreamConnectFailure {
            forwarder.record(s, .localOriginFailure)
            if forwarder.retry(s, after: .connectFailure, avoiding: pool) { return }
        }
        s.downstream.fail(s, failure)
    }

    /// Applies the stream idle and request timeouts at `now`: `408 request-timeout` while
    /// the request is still arriving, `504 upstream-timeout` while the response is awaited,
    /// a reset of both sides once it started (or once the client stopped taking it).
    static func expireIfDue(_ s: ProxyStream, now: UInt64, timeouts: ProxyTimeouts) {
        let idle = now &- s.lastProgress > timeouts.streamIdleNanos
        let late = timeouts.requestNanos > 0 && !s.longLived && now &- s.startedAt > timeouts.requestNanos && s.state != .done
        guard idle || late else { return }
        s.lastProgress = now
        s.downstream.worker.metrics.increment(late ? .requestTimeouts : .streamIdleTimeouts)
        switch s.state {
        case .routing, .awaitingResponse:
            cancelUpstream(s, errorCode: H2ErrorCode.cancel)
            s.downstream.fail(s, s.requestEnded ? .upstreamTimeout : .requestTimeout)
        case .responding, .done:
            s.downstream.reset(s, errorCode: H2ErrorCode.cancel)
            cancelUpstream(s, errorCode: H2ErrorCode.cancel)
        }
    }

    /// True unless the stream's downstream already closed. An upstream reporting on such a
    /// stream breaks the invariant of `ProxyStream.downstream` (its connection may be
    /// freed): a failed assertion in debug builds; in release builds the report is ignored.
    @inline(__always)
    static func isLive(_ s: ProxyStream) -> Bool {
        guard !s.downstreamGone else {
            assertionFailure("an upstream reported on a stream whose downstream is closed")
            return false
        }
        return true
    }

    /// Resets the upstream stream (if any) and forgets it.
    static func cancelUpstream(_ s: ProxyStream, errorCode: UInt32) {
        s.downstream.worker.forwarder.attemptEnded(s)
        guard let up = s.upstream, !up.isClosed else { return }
        up.resetStream(s, errorCode: errorCode)
        releaseQueuedRequest(s, from: up)
        up.detach(s)
    }

    /// The upstream will never frame the request bytes still queued for it: drop them and
    /// return their window credit to the downstream (connection-level if its stream is
    /// closed), so the client's connection window never leaks.
    static func releaseQueuedRequest(_ s: ProxyStream, from upstream: (any RelayUpstream)?) {
        guard let body = s.requestBody, body.bufferedBytes > 0 else { return }
        let dropped = upstream?.abandonRequestBody(body) ?? body.discard()
        // Replayed bytes still queued were credited with the first attempt (they sit at the
        // head of the queue): only the rest is owed.
        let owed = dropped - min(dropped, s.creditToSkip)
        s.creditToSkip = 0
        guard !s.downstream.isClosed, owed > 0 else { return }
        s.downstream.returnRequestCredit(s, count: owed)
    }
}
