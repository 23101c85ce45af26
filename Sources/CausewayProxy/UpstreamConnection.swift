import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayTLS

/// A pooled, multiplexed HTTP/2 connection (h2c, or mTLS to a remote gateway) from one
/// worker to one endpoint.
///
/// Requests may be submitted while the TCP connect is still in progress; their frames wait
/// in the session's output until the socket is writable.
final class UpstreamConnection: H2Connection {
    /// Envoy's pool-client states.
    enum State {
        case connecting
        /// TCP connected; the TLS handshake is in progress.
        case handshaking
        case ready
        /// GOAWAY received or idle-closing: no new streams, in-flight ones finish.
        case draining
        case closed
    }

    private(set) var state: State = .connecting
    /// Strong: a draining connection (out of its pool's list after GOAWAY) may outlive the
    /// pool's entry in the worker; the cycle is broken in `didClose`.
    let pool: UpstreamPool
    private var streams: [Int32: ProxyStream] = [:]
    private var connectTimer: TimerID?
    private var idleTimer: TimerID?
    /// Whether the server's SETTINGS arrived (until then its stream limit is unknown).
    private var settingsReceived = false
    /// Streams submitted over the connection's life (`maxRequestsPerConnection`).
    private var streamsSubmitted = 0
    /// The service whose `maxConnections` breaker unit this connection holds, if any.
    var heldLoad: ServiceLoad?
    /// Close after this long without streams; the opening service's DestinationRule
    /// `http.idleTimeout` when it has one, else `upstream.idleTimeout`.
    var idleTimeoutNanos: UInt64?

    /// The worker that owns this connection for its whole life (and outlives it).
    unowned(unsafe) let worker: Worker

    init(worker: Worker, pool: UpstreamPool, fd: Int32, tls: TLSConnection?) {
        self.worker = worker
        self.pool = pool
        super.init(context: worker.context, fd: fd, session: H2Session(role: .client, settings: worker.settings.upstreamHTTP2),
                   tls: tls, connecting: true)
        worker.metrics.increment(.upstreamConnectionsActive)
        worker.metrics.increment(.upstreamConnectionsTotal)
        worker.upstreamOpened(self)
    }

    /// Registers the connecting socket and arms the connect timeout.
    func start(connectTimeoutNanos: UInt64) throws(SystemError) {
        try register()
        // Timers capture self strongly: they are cancelled on connect and in didClose, and a
        // weak reference would give the connection a side table, which puts every retain
        // of it on the runtime's slow path.
        connectTimer = worker.loop.schedule(after: connectTimeoutNanos) { [self] in
            // Also while draining: a connection told to take no more streams before it was
            // established still owes its streams a connect timeout.
            guard !established, !isClosed else { return }
            connectFailed(reason: "connect timed out")
        }
    }

    /// Streams in flight.
    var activeStreams: Int { streams.count }

    /// How many streams this connection takes before the pool opens another.
    var streamCapacity: Int {
        settingsReceived ? Int(min(session.remoteMaxConcurrentStreams, 1 << 20)) : 100
    }

    /// True if a new request may be put on this connection.
    var acceptsStreams: Bool {
        (state == .connecting || state == .handshaking || state == .ready) && streams.count < streamCapacity
            && session.canOpenStream
    }

    override func countReceived(_ n: Int) { worker.metrics.increment(.upstreamBytesReceived, by: Int64(n)) }
    override func countSent(_ n: Int) { worker.metrics.increment(.upstreamBytesSent, by: Int64(n)) }

    /// Bytes of request body this connection may still send before the server returns
    /// window: the pool prefers connections that can make progress.
    var sendWindow: Int { session.remoteWindow }

    override func connected() {
        // TLS: the connect timer keeps running until the handshake completes.
        if tls != nil {
            if state == .connecting { state = .handshaking }
        } else {
            ready()
        }
    }

    override func connectFailed(code: Int32) {
        connectFailed(reason: SystemError("connect \(pool.address)", code: code).description)
    }

    /// True once connected (and, over TLS, handshaken).
    var isReady: Bool { established }
    /// Set once connected (and handshaken): whatever the state, the connect is over.
    private var established = false

    private func ready() {
        established = true
        // A connection drained before it was established stays draining.
        if state != .draining { state = .ready }
        // Requests that waited for the connection are no longer pending.
        for (_, stream) in streams { worker.forwarder.releasePending(stream) }
        if let t = connectTimer { worker.loop.cancel(t) }
        connectTimer = nil
        // Streams may all have left while it connected: idle (or drained) from now.
        armIdleTimerIfIdle()
    }

    override func handshakeCompleted() -> Bool {
        worker.metrics.tlsHandshakes["upstream", default: 0] &+= 1
        ready()
        return true
    }

    override func handshakeFailed(_ error: TLSError) {
        worker.metrics.tlsFailures[.init(side: "upstream", reason: error.reason.rawValue), default: 0] &+= 1
        worker.metrics.increment(.upstreamConnectFailures)
        worker.log("upstream \(pool.address): tls: \(error)", limitedBy: "upstream-failure")
        failAll(error.reason == .identityMismatch ? .upstreamIdentityMismatch : .upstreamConnectFailure)
    }

    private func connectFailed(reason: String) {
        worker.metrics.increment(.upstreamConnectFailures)
        worker.log("upstream \(pool.address): \(reason)", limitedBy: "upstream-failure")
        failAll(.upstreamConnectFailure)
        close(reason: reason)
    }

    // MARK: Streams

    /// Submits `stream`'s request. Returns false if nghttp2 refused it.
    func submit(_ stream: ProxyStream, headers: HeaderBlock) -> Bool {
        let body = stream.needsRequestBody ? H2OutboundBody() : nil
        let id = session.submitRequest(headers, edit: stream.requestEdit, body: body)
        guard id > 0 else { return false }
        streamsSubmitted += 1
        // maxRequestsPerConnection: this one is the last; the connection drains after it.
        let last = stream.backend?.destination.map { $0.maxRequestsPerConnection > 0 && streamsSubmitted >= $0.maxRequestsPerConnection } ?? false
        if let t = idleTimer { worker.loop.cancel(t); idleTimer = nil }
        stream.upstream = self
        stream.responseCreditConnection = self
        stream.upstreamID = id
        stream.requestBody = body
        stream.access?.upstream = pool.address
        stream.state = .awaitingResponse
        streams[id] = stream
        if stream.isReplay, let body {
            // A retry: the body received so far goes again, then the end if it came.
            if let replay = stream.replay, !replay.isEmpty {
                replay.withUnsafeBytes { session.send($0, on: body) }
                stream.requestBytesForwarded += replay.count
            }
            if stream.requestEnded {
                session.finish(body, trailers: stream.replayTrailers?.removingAll(named: RequestRewrite.forwardedClientCertName))
            }
        }
        scheduleFlush()
        if last { stopAcceptingStreams() }
        return true
    }

    /// Forgets a stream whose downstream side closed.
    func detach(_ stream: ProxyStream) {
        streams[stream.upstreamID] = nil
        stream.upstream = nil
        armIdleTimerIfIdle()
    }

    private func armIdleTimerIfIdle() {
        guard streams.isEmpty, idleTimer == nil, state == .ready || state == .draining else { return }
        if state == .draining {
            close(reason: "drained")
            return
        }
        idleTimer = worker.loop.schedule(after: idleTimeoutNanos ?? worker.settings.idleTimeoutNanos) { [self] in
            idleTimer = nil
            guard streams.isEmpty, !isClosed else { return }
            state = .draining
            session.goaway(errorCode: H2ErrorCode.noError)
            loopFlush()  // the GOAWAY goes out before the socket closes
            close(reason: "idle")
        }
    }

    // MARK: The request side, for Relay

    /// Queues request body bytes on `body`'s stream.
    func sendRequestBody(_ bytes: UnsafeRawBufferPointer, on body: H2OutboundBody) {
        session.send(bytes, on: body)
        scheduleFlush()
    }

    /// Ends the request body, with `trailers` after the last DATA frame if any.
    func finishRequest(_ body: H2OutboundBody, trailers: HeaderBlock?) {
        session.finish(body, trailers: trailers)
        scheduleFlush()
    }

    /// Resets `stream`'s upstream stream.
    func resetStream(_ stream: ProxyStream, errorCode: UInt32) {
        session.reset(streamID: stream.upstreamID, errorCode: errorCode)
        scheduleFlush()
    }

    /// Drops what `body` still holds; returns the number of bytes dropped.
    func abandonRequestBody(_ body: H2OutboundBody) -> Int {
        session.abandon(body)
    }

    /// The client took `count` response bytes of `stream`: return that much of the
    /// stream's window (the connection's went back when they arrived).
    func returnResponseCredit(_ stream: ProxyStream, count: Int) {
        session.consumeStream(streamID: stream.upstreamID, count: count)
        scheduleFlush()
    }

    // MARK: Events from the upstream

    override func handle(_ events: [H2Event]) {
        let now = worker.loop.now
        // Connection credit for the DATA of this batch, returned in one call at the end.
        var received = 0
        defer { if received > 0 { session.consumeConnection(count: received); scheduleFlush() } }
        for event in events {
            switch event {
            case .headers(let id, let block, let endStream):
                guard let stream = streams[id] else { continue }
                Relay.responseHead(stream, block, endStream: endStream, now: now)
            case .data(let id, let bytes):
                // The connection's window goes back at once (end of this batch): it is
                // shared by every client with a stream here, and must not wait for the
                // slowest of them.
                received += bytes.count
                if let stream = streams[id], Relay.responseData(stream, bytes, now: now) { continue }
                session.consumeStream(streamID: id, count: bytes.count)
            case .endStream(let id):
                if let stream = streams[id] { Relay.responseEnd(stream, trailers: nil) }
            case .streamClosed(let id, let code):
                if let stream = streams.removeValue(forKey: id) { Relay.upstreamClosed(stream, errorCode: code, pool: pool) }
                armIdleTimerIfIdle()
            case .bodySent(let id, let count):
                // Request bytes left towards the upstream: return that credit downstream.
                if let stream = streams[id] { Relay.requestSent(stream, count: count, now: now) }
            case .headersTooLarge(let id, _):
                // nghttp2 resets the stream; its close answers the client from this.
                worker.metrics.increment(.headerLimitRejections)
                streams[id]?.upstreamFailure = .upstreamHeaderTooLarge
            case .headersNotSent(let id, let tooLarge):
                // nghttp2 closes the stream itself. Too large once edited: answer 431, do
                // not retry. Otherwise (GOAWAY arrived first) its REFUSED_STREAM close is
                // retried like any refused stream.
                if tooLarge { streams[id]?.upstreamFailure = .headerTooLarge }
            case .goaway(let lastStreamID, let code):
                worker.log("upstream \(pool.address) sent GOAWAY (last stream \(lastStreamID), error \(code))", limitedBy: "upstream-goaway")
                // No new streams here; close as soon as the ones in flight are done.
                stopAcceptingStreams()
            case .settings:
                settingsReceived = true
            }
        }
    }

    /// Fails every stream (connect failure): each gets a proxy-made response.
    private func failAll(_ failure: ProxyFailure) {
        // Out of the pool first: a failed stream may be retried at once, and must not land
        // on this connection again.
        state = .draining
        pool.remove(self)
        let open = streams
        streams.removeAll()
        for (_, stream) in open { Relay.upstreamFailed(stream, failure, connection: self, pool: pool) }
    }

    /// Takes this connection out of its pool: no new streams (GOAWAY received, stream ids
    /// exhausted); in-flight ones finish, then it closes.
    func stopAcceptingStreams() {
        if state == .ready || state == .connecting || state == .handshaking { state = .draining }
        pool.remove(self)
        armIdleTimerIfIdle()
    }

    override func didClose(reason: String) {
        state = .closed
        heldLoad?.breaker.release(.connections)
        heldLoad = nil
        worker.upstreamClosed(self)
        if let t = connectTimer { worker.loop.cancel(t) }
        if let t = idleTimer { worker.loop.cancel(t) }
        worker.metrics.increment(.upstreamConnectionsActive, by: -1)
        pool.remove(self)
        let open = streams
        streams.removeAll()
        for (_, stream) in open {
            Relay.upstreamClosed(stream, errorCode: H2ErrorCode.internalError, pool: pool, connectionLost: true)
        }
    }
}
