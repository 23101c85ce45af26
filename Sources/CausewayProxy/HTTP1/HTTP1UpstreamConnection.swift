import CausewayBytes
import CausewayHTTP
import CausewayLoop

/// A pooled HTTP/1.1 connection from one worker to one local endpoint whose port's
/// `appProtocol` is `http`: the `RelayUpstream` of one request at a time.
///
/// Requests the pool gives it while one is on the wire wait in `queue` (never sent, like
/// HTTP/2 streams beyond a server's concurrency limit); their bodies wait in their queues,
/// so the downstream gets no credit for them until they are framed. Nothing is pipelined.
/// On any doubt about framing (bytes when no response is due, a response ending before its
/// request, an abandoned exchange, a parse error) the connection closes; requests never
/// sent are then refused (replayed elsewhere transparently), the one on the wire is lost.
///
/// This file holds the state, connecting, taking requests and closing; `+Writing` the
/// request side (`RelayUpstream`, the request on the wire), `+Reading` the response side
/// (their members are internal for that, not for other types).
///
/// Loop-bound; not thread-safe.
final class HTTP1UpstreamConnection: LoopHandler {
    /// Envoy's pool-client states.
    enum State {
        case connecting
        case ready
        /// Takes no new request (idle-closing, `maxRequestsPerConnection`, framing doubt):
        /// out of its pool; closes when its queue is empty.
        case draining
        case closed
    }

    /// One request on this connection.
    struct Exchange {
        let stream: ProxyStream
        /// The request head as received (edited when written).
        let headers: HeaderBlock
        let framing: HTTP1Framing
        let isHEAD: Bool
        /// Content-length bytes still to write.
        var remaining: UInt64
        var headWritten = false
        /// Head, body and end are all in `output`.
        var requestDone = false
        /// A final response head arrived.
        var responseStarted = false
        /// The response ended with its head (Relay was told `endStream`).
        var endedWithHead = false
        var keepAlive = true
    }

    var state: State = .connecting
    /// Strong: a draining connection (out of its pool's list) may outlive the pool's entry
    /// in the worker; the cycle is broken in `close`.
    let pool: UpstreamPool
    /// The worker that owns this connection for its whole life (and outlives it).
    unowned(unsafe) let worker: Worker
    unowned(unsafe) let context: LoopContext
    let transport: Transport
    var parser: HTTP1ResponseParser
    /// The request on the wire first, then those waiting their turn.
    var queue: [Exchange] = []
    var output = OutputQueue()
    var scratch: [UInt8] = []
    /// Response body bytes of the request on the wire handed downstream and not taken by
    /// the client yet; above `responseBacklogLimit` reads pause (no window to close).
    var responseUnacked = 0
    let responseBacklogLimit: Int
    var connectTimer: TimerID?
    var idleTimer: TimerID?
    var flushScheduled = false
    /// Set when the connection must close at the end of this pass.
    var closeReason: String?
    /// Set once connected: whatever the state, the connect is over.
    var established = false
    /// Requests taken over the connection's life (`maxRequestsPerConnection`).
    var requestsTaken = 0
    /// The service whose `maxConnections` breaker unit this connection holds, if any.
    var heldLoad: ServiceLoad?
    /// Close after this long without requests; the opening service's DestinationRule
    /// `http.idleTimeout` when it has one, else `upstream.idleTimeout`.
    var idleTimeoutNanos: UInt64?

    init(worker: Worker, pool: UpstreamPool, fd: Int32) {
        self.worker = worker
        self.context = worker.context
        self.pool = pool
        let settings = worker.settings.upstreamHTTP2
        parser = HTTP1ResponseParser(limits: HTTP1Limits(
            maxHeaderBytes: Int(settings.maxHeaderListSize), maxHeaderCount: Int(settings.maxHeaderFields),
            maxTrailerBytes: Int(settings.maxHeaderListSize)))
        responseBacklogLimit = Int(settings.initialStreamWindow)
        transport = Transport(loop: worker.loop, fd: fd, tls: nil, connecting: true)
        worker.metrics.increment(.upstreamConnectionsActive)
        worker.metrics.increment(.upstreamConnectionsTotal)
        worker.metrics.increment(.http1UpstreamConnectionsActive)
        worker.metrics.increment(.http1UpstreamConnectionsTotal)
        worker.upstreamOpened(self)
    }

    /// Registers the connecting socket and arms the connect timeout.
    func start(connectTimeoutNanos: UInt64) throws(SystemError) {
        try transport.register(self)
        connectTimer = worker.loop.schedule(after: connectTimeoutNanos) { [self] in
            guard !established, !isClosing else { return }
            connectFailed(reason: "connect timed out")
        }
    }

    /// True once actually closed: every exchange was then ended and told (`close`).
    ///
    /// Not true while a close is only requested (`isClosing`): the exchanges are still in
    /// `queue` then, and `Relay` must still reset and detach a stream whose client goes away
    /// (`resetStream`, `detach`), or `close` would report on a stream whose downstream may
    /// be freed by then (see `ProxyStream.downstream`).
    var isClosed: Bool { state == .closed }
    /// True once closed, or about to be at the end of this pass: nothing more is written or
    /// read, and no request is taken.
    var isClosing: Bool { state == .closed || closeReason != nil }
    /// True once connected.
    var isReady: Bool { established }
    /// Requests on this connection, on the wire or waiting.
    var activeStreams: Int { queue.count }
    /// True if the pool may give this connection a request.
    var acceptsStreams: Bool { (state == .connecting || state == .ready) && closeReason == nil }

    // MARK: Connecting

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if writable {
            if transport.phase == .connecting {
                let error = transport.finishConnect()
                guard error == 0 else {
                    connectFailed(reason: SystemError("connect \(pool.address)", code: error).description)
                    return
                }
                connected()
            }
            if !isClosing { loopFlush() }
        }
        guard (readable || hangup) && state != .closed else { return }
        if transport.peerFinished {
            if hangup { close(reason: "peer hung up") }
            return
        }
        let outcome = transport.readAvailable(
            into: context.readBuffer, plaintext: context.plaintextBuffer,
            countReceived: { worker.metrics.increment(.upstreamBytesReceived, by: Int64($0)) },
            handshakeCompleted: { true }, deliver: { received($0) })
        switch outcome {
        case .idle, .stopped:
            break
        case .endOfStream:
            peerClosed()
        case .failed(let reason):
            close(reason: reason)
        case .refused(let error):
            close(reason: "\(error)")
        }
    }

    func connected() {
        established = true
        if state == .connecting { state = .ready }
        // Requests that waited for the connection are no longer pending.
        for exchange in queue { worker.forwarder.releasePending(exchange.stream) }
        if let t = connectTimer { worker.loop.cancel(t) }
        connectTimer = nil
        armIdleTimerIfIdle()
    }

    func connectFailed(reason: String) {
        worker.metrics.increment(.upstreamConnectFailures)
        worker.log("upstream \(pool.address): \(reason)", limitedBy: "upstream-failure")
        // Out of the pool first: a failed request may be retried at once, and must not land
        // on this connection again.
        state = .draining
        pool.remove(self)
        let waiting = queue
        queue.removeAll()
        for exchange in waiting {
            Relay.upstreamFailed(exchange.stream, .upstreamConnectFailure, connection: self, pool: pool)
        }
        close(reason: reason)
    }

    // MARK: Requests

    /// Takes `stream`'s request: written at once if the connection is free, else after the
    /// requests before it.
    func submit(_ stream: ProxyStream, headers: HeaderBlock) {
        let body = stream.needsRequestBody ? H2OutboundBody() : nil
        let framing: HTTP1Framing
        if let length = headers.trustedContentLength {
            framing = .contentLength(length)
        } else {
            framing = body == nil ? .none : .chunked
        }
        var remaining: UInt64 = 0
        if case .contentLength(let n) = framing { remaining = n }
        let isHEAD = headers.withValue(of: ":method") { $0.count == 4 && $0.elementsEqual("HEAD".utf8) } ?? false
        requestsTaken += 1
        if let t = idleTimer { worker.loop.cancel(t); idleTimer = nil }
        stream.upstream = self
        stream.responseCreditConnection = self
        stream.upstreamID = Int32(truncatingIfNeeded: requestsTaken)
        stream.requestBody = body
        stream.access?.upstream = pool.address
        stream.state = .awaitingResponse
        queue.append(Exchange(stream: stream, headers: headers, framing: framing, isHEAD: isHEAD, remaining: remaining))
        if stream.isReplay, let body {
            // A retry: the body received so far goes again, then the end if it came.
            if let replay = stream.replay, !replay.isEmpty {
                replay.withUnsafeBytes { body.append($0) }
                stream.requestBytesForwarded += replay.count
            }
            if stream.requestEnded {
                body.end(trailers: stream.replayTrailers?.removingAll(named: RequestRewrite.forwardedClientCertName))
            }
        }
        scheduleFlush()
        // maxRequestsPerConnection: this one is the last; the connection drains after it.
        if let limit = stream.backend?.destination?.maxRequestsPerConnection, limit > 0, requestsTaken >= limit {
            stopAcceptingStreams()
        }
    }

    /// Takes this connection out of its pool; it closes once its queue is empty.
    func stopAcceptingStreams() {
        if state == .connecting || state == .ready { state = .draining }
        pool.remove(self)
        armIdleTimerIfIdle()
    }

    // MARK: Closing

    /// Out of the pool now, closed at the end of this pass.
    func requestClose(_ reason: String) {
        guard closeReason == nil, state != .closed else { return }
        closeReason = reason
        if state != .closed { state = .draining }
        pool.remove(self)
        scheduleFlush()
    }

    func armIdleTimerIfIdle() {
        guard queue.isEmpty, idleTimer == nil, established, state == .ready || state == .draining, closeReason == nil else { return }
        if state == .draining {
            requestClose("drained")
            return
        }
        idleTimer = worker.loop.schedule(after: idleTimeoutNanos ?? worker.settings.idleTimeoutNanos) { [self] in
            idleTimer = nil
            guard queue.isEmpty, state != .closed else { return }
            close(reason: "idle")
        }
    }

    /// Frees buffers kept for reuse (idle connections, from the worker's sweep).
    func trimIdleMemory() {
        output.releaseSpare()
        transport.trimIdleMemory()
    }

    /// Closes the socket: the request on the wire is lost (`connectionLost`, so an
    /// idempotent one is replayed), requests never sent are refused. Idempotent.
    func close(reason: String) {
        guard state != .closed else { return }
        state = .closed
        closeReason = nil
        transport.close()
        output.removeAll()
        heldLoad?.breaker.release(.connections)
        heldLoad = nil
        worker.upstreamClosed(self)
        if let t = connectTimer { worker.loop.cancel(t) }
        if let t = idleTimer { worker.loop.cancel(t) }
        worker.metrics.increment(.upstreamConnectionsActive, by: -1)
        worker.metrics.increment(.http1UpstreamConnectionsActive, by: -1)
        pool.remove(self)
        let open = queue
        queue.removeAll()
        for exchange in open {
            if exchange.headWritten {
                Relay.upstreamClosed(exchange.stream, errorCode: H2ErrorCode.internalError, pool: pool, connectionLost: true)
            } else {
                Relay.upstreamClosed(exchange.stream, errorCode: H2ErrorCode.refusedStream, pool: pool)
            }
        }
    }
}

extension HTTP1UpstreamConnection: RelayUpstream {}
