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
    private struct Exchange {
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

    private(set) var state: State = .connecting
    /// Strong: a draining connection (out of its pool's list) may outlive the pool's entry
    /// in the worker; the cycle is broken in `close`.
    let pool: UpstreamPool
    /// The worker that owns this connection for its whole life (and outlives it).
    unowned(unsafe) let worker: Worker
    unowned(unsafe) let context: LoopContext
    let transport: Transport
    private var parser: HTTP1ResponseParser
    /// The request on the wire first, then those waiting their turn.
    private var queue: [Exchange] = []
    private var output = OutputQueue()
    private var scratch: [UInt8] = []
    /// Response body bytes of the request on the wire handed downstream and not taken by
    /// the client yet; above `responseBacklogLimit` reads pause (no window to close).
    private var responseUnacked = 0
    private let responseBacklogLimit: Int
    private var connectTimer: TimerID?
    private var idleTimer: TimerID?
    private var flushScheduled = false
    /// Set when the connection must close at the end of this pass.
    private var closeReason: String?
    /// Set once connected: whatever the state, the connect is over.
    private var established = false
    /// Requests taken over the connection's life (`maxRequestsPerConnection`).
    private var requestsTaken = 0
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
            guard !established, !isClosed else { return }
            connectFailed(reason: "connect timed out")
        }
    }

    /// True once closed, or about to be at the end of this pass.
    var isClosed: Bool { state == .closed || closeReason != nil }
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
            if !isClosed { loopFlush() }
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

    private func connected() {
        established = true
        if state == .connecting { state = .ready }
        // Requests that waited for the connection are no longer pending.
        for exchange in queue { worker.forwarder.releasePending(exchange.stream) }
        if let t = connectTimer { worker.loop.cancel(t) }
        connectTimer = nil
        armIdleTimerIfIdle()
    }

    private func connectFailed(reason: String) {
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

    // MARK: The request side, for Relay

    /// Queues request body bytes on `body`.
    func sendRequestBody(_ bytes: UnsafeRawBufferPointer, on body: H2OutboundBody) {
        body.append(bytes)
        if queue.first?.stream.requestBody === body { scheduleFlush() }
    }

    /// Ends the request body, with trailers if any (sent only in chunked framing).
    func finishRequest(_ body: H2OutboundBody, trailers: HeaderBlock?) {
        body.end(trailers: trailers)
        if queue.first?.stream.requestBody === body { scheduleFlush() }
    }

    /// Abandons `stream`'s request. One waiting its turn just leaves; one on the wire
    /// leaves the connection unusable (an HTTP/1.1 message cannot be cut short).
    func resetStream(_ stream: ProxyStream, errorCode: UInt32) {
        remove(stream)
    }

    /// Drops what `body` still holds; returns the bytes dropped.
    func abandonRequestBody(_ body: H2OutboundBody) -> Int {
        body.discard()
    }

    /// The client took `count` response bytes of `stream`: reads may resume below the bound.
    func returnResponseCredit(_ stream: ProxyStream, count: Int) {
        guard queue.first?.stream === stream else { return }
        responseUnacked = max(0, responseUnacked - count)
        if responseUnacked <= responseBacklogLimit { transport.resumeReads(.relayBacklog) }
    }

    /// Forgets `stream` (its client went away).
    func detach(_ stream: ProxyStream) {
        remove(stream)
        stream.upstream = nil
        armIdleTimerIfIdle()
    }

    private func remove(_ stream: ProxyStream) {
        guard let i = queue.firstIndex(where: { $0.stream === stream }) else { return }
        let onTheWire = i == 0 && queue[0].headWritten
        queue.remove(at: i)
        if onTheWire {
            responseUnacked = 0
            requestClose("request abandoned mid-exchange")
        }
    }

    // MARK: Writing

    private func scheduleFlush() {
        guard !flushScheduled && state != .closed else { return }
        flushScheduled = true
        context.loop.scheduleFlush(self)
    }

    func loopFlush() {
        flushScheduled = false
        guard state != .closed else { return }
        if let reason = closeReason {
            close(reason: reason)
            return
        }
        guard transport.isConnected else { return }
        for _ in 0..<8 {
            frameRequest()
            if isClosed { return loopFlush() }
            let (result, sent) = transport.write(&output)
            worker.metrics.increment(.upstreamBytesSent, by: Int64(sent))
            switch result {
            case .drained:
                transport.setWantsWrite(false)
                // More body may be framed now that the output is empty.
                guard let body = queue.first?.stream.requestBody, !queue[0].requestDone,
                      body.bufferedBytes > 0 || body.ended else { return }
            case .blocked:
                transport.setWantsWrite(true)
                return
            case .failed(let code):
                close(reason: SystemError("writev", code: code).description)
                return
            }
        }
        scheduleFlush()
    }

    /// Writes the head of the request on the wire, then as much of its body as the output
    /// high-water mark allows (by reference), then its end.
    private func frameRequest() {
        guard !queue.isEmpty, !queue[0].requestDone, closeReason == nil else { return }
        let stream = queue[0].stream
        if !queue[0].headWritten {
            scratch.removeAll(keepingCapacity: true)
            let edit = stream.requestEdit
            guard HTTP1Writer.appendRequestHead(edit.isEmpty ? queue[0].headers : edit.applied(to: queue[0].headers),
                                                framing: queue[0].framing, to: &scratch) else {
                // Not expressible as an HTTP/1.1 request line (HTTP/2 and the HTTP/1.1 parser
                // already refuse such heads): nothing was written, the connection goes on.
                queue.removeFirst()
                stream.upstream = nil
                Relay.upstreamFailed(stream, .invalidRequest, connection: self, pool: pool)
                if !queue.isEmpty { scheduleFlush() }
                armIdleTimerIfIdle()
                return
            }
            scratch.withUnsafeBytes { output.append($0) }
            queue[0].headWritten = true
            parser.expectResponse(toHEAD: queue[0].isHEAD)
            if stream.requestBody == nil {
                queue[0].requestDone = true
                return
            }
        }
        guard let body = stream.requestBody else { return }
        let room = max(0, H2Connection.outputHighWater - output.pendingBytes)
        var framed = 0
        switch queue[0].framing {
        case .contentLength:
            guard UInt64(body.bufferedBytes) <= queue[0].remaining else {
                close(reason: "request body longer than its content-length")
                return
            }
            framed = moveRaw(from: body, limit: room)
            queue[0].remaining -= UInt64(framed)
        case .chunked:
            let n = min(body.bufferedBytes, room)
            if n > 0 {
                scratch.removeAll(keepingCapacity: true)
                HTTP1Writer.appendChunkHeader(size: n, to: &scratch)
                scratch.withUnsafeBytes { output.append($0) }
                framed = moveRaw(from: body, limit: n)
                scratch.removeAll(keepingCapacity: true)
                HTTP1Writer.appendChunkEnd(to: &scratch)
                scratch.withUnsafeBytes { output.append($0) }
            }
        case .none, .untilClose:
            break
        }
        if framed > 0 { Relay.requestSent(stream, count: framed, now: context.loop.now) }
        guard !isClosed, !queue.isEmpty, queue[0].stream === stream, body.ended, body.bufferedBytes == 0 else { return }
        switch queue[0].framing {
        case .chunked:
            scratch.removeAll(keepingCapacity: true)
            HTTP1Writer.appendLastChunk(trailers: body.trailers, to: &scratch)
            scratch.withUnsafeBytes { output.append($0) }
        case .contentLength where queue[0].remaining > 0:
            close(reason: "request body shorter than its content-length")
            return
        default:
            break
        }
        queue[0].requestDone = true
        completeIfDone()
    }

    /// Appends up to `limit` queued bytes of `body` to `output` by reference and consumes them.
    private func moveRaw(from body: H2OutboundBody, limit: Int) -> Int {
        var moved = 0
        while moved < limit, let run = body.peek(limit: limit - moved) {
            output.appendReference(run.chunk, offset: run.offset, count: run.count)
            body.consume(run.count)
            moved += run.count
        }
        return moved
    }

    // MARK: Reading

    /// Bytes from the endpoint. Returns false to stop reading for now.
    private func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard closeReason == nil else { return false }
        guard !queue.isEmpty, queue[0].headWritten else {
            // No response is due: whatever this is, the connection cannot be trusted.
            requestClose("upstream sent bytes when no response was due")
            return false
        }
        let stream = queue[0].stream
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let used: Int
            do {
                used = try parser.parse(rest) { event in handle(event, of: stream) }
            } catch {
                parseFailed(error, stream: stream)
                return false
            }
            offset += used
            if closeReason != nil || state == .closed { return false }
            if queue.first?.stream !== stream {
                // The exchange ended with this message; the next request is not sent yet,
                // so anything after it is not a response to anything.
                if offset < bytes.count { requestClose("upstream sent bytes after its response") }
                return closeReason == nil
            }
            if used == 0 { break }
        }
        if responseUnacked > responseBacklogLimit { transport.pauseReads(.relayBacklog) }
        return responseUnacked <= responseBacklogLimit
    }

    private func handle(_ event: HTTP1Event<HTTP1ResponseHead>, of stream: ProxyStream) {
        // The exchange may have been abandoned by a callback of an earlier event.
        guard closeReason == nil, let first = queue.first, first.stream === stream else { return }
        let now = context.loop.now
        switch event {
        case .head(let head):
            // 1xx (100 Continue, 103) are not relayed.
            guard head.status >= 200 else { return }
            let endStream: Bool
            switch head.framing {
            case .none, .contentLength(0): endStream = true
            default: endStream = false
            }
            queue[0].responseStarted = true
            queue[0].endedWithHead = endStream
            if case .untilClose = head.framing { queue[0].keepAlive = false } else { queue[0].keepAlive = head.keepAlive }
            Relay.responseHead(stream, head.headers, endStream: endStream, now: now)
        case .body(let bytes):
            if Relay.responseData(stream, bytes, now: now) { responseUnacked += bytes.count }
        case .end(let trailers):
            responseEnded(stream, trailers: trailers)
        }
    }

    /// The response to the request on the wire ended (its end, or EOF for a close-delimited one).
    private func responseEnded(_ stream: ProxyStream, trailers: HeaderBlock?) {
        guard !queue.isEmpty, queue[0].stream === stream else { return }
        let endedWithHead = queue[0].endedWithHead
        if !queue[0].requestDone {
            // Answered before its request was all sent (an early 413, a redirect): the rest
            // of the request will not be sent, so the connection cannot carry another.
            queue[0].keepAlive = false
        }
        if !endedWithHead { Relay.responseEnd(stream, trailers: trailers) }
        guard !queue.isEmpty, queue[0].stream === stream else { return }
        queue[0].requestDone = queue[0].requestDone || !queue[0].keepAlive
        completeIfDone()
    }

    /// Ends the exchange on the wire once its request is written and its response ended:
    /// the stream is told (as a clean close), then the next request goes, or the
    /// connection idles in its pool, or closes if it may not be reused.
    private func completeIfDone() {
        guard let first = queue.first, first.requestDone, first.responseStarted, isResponseOver(first) else { return }
        queue.removeFirst()
        responseUnacked = 0
        transport.resumeReads(.relayBacklog)
        Relay.upstreamClosed(first.stream, errorCode: 0, pool: pool)
        if !first.keepAlive {
            requestClose("not reusable after its response")
            return
        }
        if !queue.isEmpty { scheduleFlush() }
        armIdleTimerIfIdle()
    }

    /// True once the response of `exchange` ended (its stream saw the end).
    private func isResponseOver(_ exchange: Exchange) -> Bool {
        exchange.endedWithHead || exchange.stream.responseEnded || exchange.stream.state == .done
    }

    private func parseFailed(_ error: HTTP1ParseError, stream: ProxyStream) {
        worker.metrics.http1ParseErrors[.init(side: "upstream", reason: error.reason), default: 0] &+= 1
        worker.log("upstream \(pool.address) sent a malformed response: \(error.reason)", limitedBy: "http1-parse-error")
        if error.reason == "header-too-large" { stream.upstreamFailure = .upstreamHeaderTooLarge }
        close(reason: "malformed response: \(error.reason)")
    }

    /// The endpoint closed its side: ends a close-delimited response, else the exchange on
    /// the wire is lost; then the connection closes.
    private func peerClosed() {
        if let first = queue.first, first.headWritten, parser.finishAtEOF() {
            responseEnded(first.stream, trailers: nil)
        }
        close(reason: "upstream closed the connection")
    }

    /// Out of the pool now, closed at the end of this pass.
    private func requestClose(_ reason: String) {
        guard closeReason == nil, state != .closed else { return }
        closeReason = reason
        if state != .closed { state = .draining }
        pool.remove(self)
        scheduleFlush()
    }

    private func armIdleTimerIfIdle() {
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
