import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayTLS

/// A pooled, multiplexed h2c connection from one worker to one endpoint.
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

    init(worker: Worker, pool: UpstreamPool, fd: Int32, tls: TLSConnection?) {
        self.pool = pool
        super.init(worker: worker, fd: fd, session: H2Session(role: .client, settings: worker.settings.upstreamHTTP2), tls: tls)
        worker.metrics.upstreamConnectionsActive += 1
        worker.metrics.upstreamConnectionsTotal += 1
        worker.upstreamOpened(self)
    }

    /// Registers the connecting socket and arms the connect timeout.
    func start() throws(SystemError) {
        try register(interest: .write)
        // Timers capture self strongly: they are cancelled on connect and in didClose, and a
        // weak reference would give the connection a side table, which puts every retain
        // of it on the runtime's slow path.
        connectTimer = worker.loop.schedule(after: worker.settings.connectTimeoutNanos) { [self] in
            guard state == .connecting || state == .handshaking else { return }
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

    override var writeEnabled: Bool { state != .connecting }

    override func countReceived(_ n: Int) { worker.metrics.upstreamBytesReceived &+= UInt64(n) }
    override func countSent(_ n: Int) { worker.metrics.upstreamBytesSent &+= UInt64(n) }

    override func socketWritable() -> Bool {
        guard state == .connecting else { return true }
        let error = Sockets.pendingError(fd)
        if error != 0 {
            connectFailed(reason: SystemError("connect \(pool.address)", code: error).description)
            return false
        }
        if tls != nil {
            // TCP is up; the connect timer keeps running until the handshake completes.
            state = .handshaking
            setInterest(.read)
            startHandshake()
            return false
        }
        connected()
        return true
    }

    private func connected() {
        state = .ready
        if let t = connectTimer { worker.loop.cancel(t) }
        connectTimer = nil
    }

    override func handshakeCompleted() -> Bool {
        worker.metrics.tlsHandshakes["upstream", default: 0] &+= 1
        connected()
        return true
    }

    override func handshakeFailed(_ error: TLSError) {
        worker.metrics.tlsFailures[.init(side: "upstream", reason: error.reason.rawValue), default: 0] &+= 1
        worker.metrics.upstreamConnectFailures &+= 1
        worker.log("upstream \(pool.address): tls: \(error)")
        failAll(error.reason == .identityMismatch ? .upstreamIdentityMismatch : .upstreamConnectFailure)
    }

    private func connectFailed(reason: String) {
        worker.metrics.upstreamConnectFailures &+= 1
        worker.log("upstream \(pool.address): \(reason)")
        failAll(.upstreamConnectFailure)
        close(reason: reason)
    }

    // MARK: Streams

    /// Submits `stream`'s request. Returns false if nghttp2 refused it.
    func submit(_ stream: ProxyStream, headers: HeaderBlock) -> Bool {
        let body = stream.requestEnded ? nil : H2OutboundBody()
        let id = session.submitRequest(headers, edit: stream.requestEdit, body: body)
        guard id > 0 else { return false }
        if let t = idleTimer { worker.loop.cancel(t); idleTimer = nil }
        stream.upstream = self
        stream.responseCreditConnection = self
        stream.upstreamID = id
        stream.requestBody = body
        stream.state = .awaitingResponse
        streams[id] = stream
        scheduleFlush()
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
        idleTimer = worker.loop.schedule(after: worker.settings.idleTimeoutNanos) { [self] in
            idleTimer = nil
            guard streams.isEmpty, !isClosed else { return }
            state = .draining
            session.goaway(errorCode: H2ErrorCode.noError)
            loopFlush()  // the GOAWAY goes out before the socket closes
            close(reason: "idle")
        }
    }

    // MARK: Events from the upstream

    override func handle(_ events: [H2Event]) {
        for event in events {
            switch event {
            case .headers(let id, let block, let endStream):
                guard let stream = streams[id] else { continue }
                responseHeaders(stream, block, endStream: endStream)
            case .data(let id, let bytes):
                if let stream = streams[id], let body = stream.responseBody, stream.state == .responding {
                    stream.downstream.session.send(bytes, on: body)
                    stream.downstream.scheduleFlush()
                } else {
                    session.consume(streamID: id, count: bytes.count)
                }
            case .endStream(let id):
                if let stream = streams[id] { responseEnded(stream, trailers: nil) }
            case .streamClosed(let id, let code):
                if let stream = streams.removeValue(forKey: id) { upstreamClosed(stream, errorCode: code) }
                armIdleTimerIfIdle()
            case .bodySent(let id, let count):
                // Request bytes left towards the upstream: return that credit downstream.
                if let stream = streams[id] {
                    stream.downstream.session.consume(streamID: stream.downstreamID, count: count)
                    stream.downstream.scheduleFlush()
                }
            case .goaway(let lastStreamID, let code):
                worker.log("upstream \(pool.address) sent GOAWAY (last stream \(lastStreamID), error \(code))")
                // No new streams here; close as soon as the ones in flight are done.
                stopAcceptingStreams()
            case .settings:
                settingsReceived = true
            }
        }
    }

    private func responseHeaders(_ stream: ProxyStream, _ block: HeaderBlock, endStream: Bool) {
        guard let status = block.status else {
            // No :status: these are trailers.
            if stream.state == .responding { responseEnded(stream, trailers: block) }
            return
        }
        // Informational responses (100 Continue, 103) are not relayed in this version.
        if status < 200 { return }
        stream.downstream.respond(stream, headers: block, endStream: endStream, status: status)
        if endStream { stream.responseEnded = true }
    }

    private func responseEnded(_ stream: ProxyStream, trailers: HeaderBlock?) {
        stream.responseEnded = true
        guard stream.state == .responding, let body = stream.responseBody else { return }
        stream.state = .done
        stream.downstream.session.finish(body, trailers: trailers)
        stream.downstream.scheduleFlush()
    }

    /// The upstream stream closed: normally, or by reset, GOAWAY or connection loss.
    private func upstreamClosed(_ stream: ProxyStream, errorCode: UInt32) {
        stream.upstream = nil
        // Request bytes buffered for the upstream will never be framed: return them.
        stream.releaseQueuedRequest(from: nil)
        switch stream.state {
        case .done:
            return
        case .routing, .awaitingResponse:
            if errorCode == H2ErrorCode.refusedStream && stream.requestBytesForwarded == 0 && stream.requestEnded {
                // Never processed by the upstream (GOAWAY / REFUSED_STREAM): safe to retry.
                if let headers = stream.requestHeaders, worker.retry(stream, headers: headers, refusedBy: pool) { return }
            }
            stream.downstream.fail(stream, errorCode == H2ErrorCode.refusedStream ? .upstreamRefused : .upstreamReset)
        case .responding:
            if errorCode == 0 && stream.responseEnded { return }
            stream.downstream.reset(stream, errorCode: errorCode == 0 ? H2ErrorCode.internalError : errorCode)
        }
    }

    /// Fails every stream (connect failure): each gets a proxy-made response.
    private func failAll(_ failure: ProxyFailure) {
        let open = streams
        streams.removeAll()
        for (_, stream) in open {
            stream.releaseQueuedRequest(from: self)
            stream.upstream = nil
            stream.downstream.fail(stream, failure)
        }
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
        worker.upstreamClosed(self)
        if let t = connectTimer { worker.loop.cancel(t) }
        if let t = idleTimer { worker.loop.cancel(t) }
        worker.metrics.upstreamConnectionsActive -= 1
        pool.remove(self)
        let open = streams
        streams.removeAll()
        for (_, stream) in open { upstreamClosed(stream, errorCode: H2ErrorCode.internalError) }
    }
}
