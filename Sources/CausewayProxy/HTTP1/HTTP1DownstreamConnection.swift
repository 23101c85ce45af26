#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayMesh

/// An HTTP/1.1 client of a sidecar listener (sniffed by `ProtocolSniffer`). Each request
/// becomes a `ProxyStream` that `Forwarder` and `Relay` handle exactly as one from an
/// HTTP/2 client: this class is its `RelayDownstream`.
///
/// One request at a time (an *exchange*): a pipelined request is parsed only once the
/// response before it is queued whole, so answers go out in order. Bytes that arrive while
/// a request is outstanding stay in `pending` and reads pause (at most one read's worth is
/// held). Backpressure is TCP's: request body bytes read and not yet framed towards the
/// upstream (`requestBytesOwed`) above the client's stream window stop reads until
/// `returnRequestCredit` brings them down. `Expect: 100-continue` is answered once the
/// request was routed to an upstream attempt and no final response was made. A "reset"
/// closes the connection at once, so the client sees a truncated message; a connection
/// that must not be reused closes after its response, lingering to read what the client
/// still sends so that the close does not reset the response away.
///
/// Loop-bound; not thread-safe.
final class HTTP1DownstreamConnection: LoopHandler {
    /// The connection's life, apart from "closed" (`isClosed`).
    enum Lifecycle: Equatable {
        /// Serving requests.
        case open
        /// Takes no new request: the one in flight finishes (its response says
        /// `connection: close` if its head is not out yet), then the connection closes;
        /// at `since + timeouts.drainNanos` it is closed hard.
        case draining(since: UInt64)
        /// Everything owed was written and our side shut down (`SHUT_WR`) at `since`: what
        /// the client still sends is read and dropped until its EOF, or `lingerNanos`.
        case lingering(since: UInt64)
    }

    /// What has been done about the current exchange's response.
    private enum ResponseProgress: Equatable {
        /// No head yet.
        case awaiting
        /// Head written; the body goes out as the plan says (`remaining`: content-length
        /// bytes still owed).
        case body(HTTP1ResponsePlan.Body, remaining: UInt64)
        /// Head and body are all in `output`.
        case complete
    }

    /// One request and its response.
    private struct Exchange {
        var stream: ProxyStream?
        /// The parser delivered the request's end.
        var requestEnded = false
        var isHEAD = false
        /// False once either side asked to close after this exchange.
        var keepAlive = true
        var minorVersion = 1
        /// The client waits for `100 Continue` before sending its body.
        var expectsContinue = false
        var continueSent = false
        var response = ResponseProgress.awaiting
    }

    /// Output beyond which response bodies wait in their queues and reads pause.
    static let outputHighWater = H2Connection.outputHighWater
    /// How long a closing connection reads and drops what its client still sends.
    static let lingerNanos: UInt64 = 2_000_000_000
    /// Bytes of pipelined input parsed per step, so a body in `pending` respects the
    /// request backlog bound as one read from the socket does.
    private static let parseStep = 16 * 1024

    /// The worker that owns this connection for its whole life (and outlives it).
    /// unowned(unsafe) because safe `unowned` costs an atomic on every access.
    unowned(unsafe) let worker: Worker
    unowned(unsafe) let context: LoopContext
    let transport: Transport
    /// The listener this connection came from.
    let listener: ListenerSpec
    /// The listener's role (always `.sidecar`: HTTP/1.1 is sniffed on plaintext listeners).
    var role: TrafficRole { listener.role }
    /// Sidecar clients carry no verified identity.
    let forwardedClientCert: [UInt8] = []

    private var parser: HTTP1RequestParser
    private var exchange = Exchange()
    /// Bytes read and not parsed yet (pipelined requests), from `pendingStart` on.
    private var pending: [UInt8] = []
    private var pendingStart = 0
    /// Serialized bytes waiting for the socket.
    private var output = OutputQueue()
    /// Heads and chunk lines are built here, then copied into `output` (kept for reuse).
    private var scratch: [UInt8] = []
    /// The last stream id handed out (a per-connection counter).
    private var lastStreamID: Int32 = 0
    /// Request body bytes read and not yet credited back (framed upstream, or dropped).
    private var requestBytesOwed = 0
    /// Above this many owed bytes, reads pause: what an HTTP/2 client's stream window allows.
    private let requestBacklogLimit: Int
    /// Relayed response bytes queued for the client and not yet framed.
    private var bufferedResponseBytes = 0
    /// The body every response of this connection uses in turn (one at a time), so that a
    /// response costs no body object and, while its bytes fit, no new chunk.
    private var spareBody = H2OutboundBody()
    private(set) var lifecycle = Lifecycle.open
    /// The client finished sending (EOF): pending requests are still answered, then the
    /// connection closes.
    private var peerFinished = false
    /// Close once `output` is written (lingering first).
    private var closeWhenFlushed = false
    /// Set when the connection must end at the end of this loop pass, whatever is queued.
    private var abortReason: String?
    private var flushScheduled = false

    /// When the connection was accepted (monotonic ns).
    let acceptedAt: UInt64
    /// When the last exchange ended, or the connection was accepted.
    private(set) var idleSince: UInt64
    /// When the socket last took bytes, or had nothing waiting.
    private var lastWriteProgress: UInt64
    /// The socket's unacknowledged bytes at the last `noteKernelProgress` (-1: unknown).
    private var lastUnacknowledged = -1
    /// When the sweep first saw the head now in progress unfinished (0: none is).
    private var headPendingSince: UInt64 = 0
    /// Requests started then (a later head restarts the clock).
    private var headPendingMark = -1
    /// Requests whose head was parsed on this connection.
    private var requestsStarted = 0

    init(worker: Worker, fd: Int32, listener: ListenerSpec) {
        self.worker = worker
        self.context = worker.context
        self.listener = listener
        let settings = worker.settings.downstreamHTTP2
        parser = HTTP1RequestParser(limits: HTTP1Limits(
            maxHeaderBytes: Int(settings.maxHeaderListSize), maxHeaderCount: Int(settings.maxHeaderFields),
            maxTrailerBytes: Int(settings.maxHeaderListSize)))
        requestBacklogLimit = Int(settings.initialStreamWindow)
        transport = Transport(loop: worker.loop, fd: fd, tls: nil, connecting: false)
        acceptedAt = worker.loop.now
        idleSince = worker.loop.now
        lastWriteProgress = worker.loop.now
        worker.metrics.increment(.downstreamConnectionsActive)
        worker.metrics.increment(.downstreamConnectionsTotal)
        worker.metrics.increment(.http1DownstreamConnectionsActive)
        worker.metrics.increment(.http1DownstreamConnectionsTotal)
    }

    /// True once closed, or about to be at the end of this pass (nothing more is taken).
    var isClosed: Bool { transport.isClosed || abortReason != nil }

    /// Starts watching the socket.
    func register() throws(SystemError) {
        try transport.register(self)
    }

    /// Handles the bytes the protocol sniffer already read, before anything else.
    func start(initial: [UInt8]) {
        guard !initial.isEmpty else { return }
        _ = initial.withUnsafeBytes { received($0) }
        scheduleFlush()
    }

    // MARK: Reading

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if writable { loopFlush() }
        guard (readable || hangup) && !transport.isClosed else { return }
        if transport.peerFinished {
            if hangup { close(reason: "peer hung up") }
            return
        }
        let outcome = transport.readAvailable(
            into: context.readBuffer, plaintext: context.plaintextBuffer,
            countReceived: { worker.metrics.increment(.downstreamBytesReceived, by: Int64($0)) },
            handshakeCompleted: { true }, deliver: { received($0) })
        switch outcome {
        case .idle, .stopped:
            break
        case .endOfStream:
            peerFinishedSending()
        case .failed(let reason):
            close(reason: reason)
        case .refused(let error):
            close(reason: "\(error)")
        }
    }

    /// Bytes from the socket. Returns false to stop reading for now.
    private func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if case .lingering = lifecycle { return true }
        guard !isClosed else { return false }
        if pendingCount == 0 && acceptsInput {
            let used = parse(bytes)
            if used < bytes.count && !isClosed { pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[used...])) }
        } else {
            // A request is outstanding (or earlier input still waits): keep these for later
            // and read no further until they are taken.
            pending.append(contentsOf: bytes)
        }
        updateReadInterest()
        return pendingCount == 0 && requestBytesOwed <= requestBacklogLimit && !isClosed
    }

    /// True when the parser may take bytes now: no exchange, or its request still arriving.
    private var acceptsInput: Bool {
        guard !isClosed, !closeWhenFlushed else { return false }
        if exchange.stream != nil { return !exchange.requestEnded }
        return lifecycle == .open
    }

    private var pendingCount: Int { pending.count - pendingStart }

    /// Feeds `bytes` to the parser while it may take them; returns how many it consumed.
    private func parse(_ bytes: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while offset < bytes.count && acceptsInput {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let used: Int
            do {
                used = try parser.parse(rest) { event in handle(event) }
            } catch {
                parseFailed(error)
                return bytes.count
            }
            offset += used
            if used == 0 { break }
        }
        return offset
    }

    /// Parses held input once the exchange before it is over (or the backlog went down).
    private func resumeInput() {
        while pendingCount > 0 && acceptsInput && requestBytesOwed <= requestBacklogLimit {
            let n = min(pendingCount, Self.parseStep)
            let start = pendingStart
            let used = pending.withUnsafeBytes { parse(UnsafeRawBufferPointer(rebasing: $0[start..<(start + n)])) }
            guard !isClosed else { return }
            pendingStart += used
            if used < n { break }
        }
        if pendingCount == 0 && pendingStart > 0 {
            pending.removeAll(keepingCapacity: pending.capacity <= 64 * 1024)
            pendingStart = 0
        }
        updateReadInterest()
        if pendingCount == 0 && exchange.stream == nil && peerFinished { closeGracefully() }
    }

    /// Reads pause while input waits unparsed (a request is outstanding), while the request
    /// backlog is over its bound; they resume when neither holds.
    private func updateReadInterest() {
        guard !transport.isClosed else { return }
        if case .lingering = lifecycle { return }
        if pendingCount > 0 { transport.pauseReads(.nothingExpected) } else { transport.resumeReads(.nothingExpected) }
        if requestBytesOwed > requestBacklogLimit { transport.pauseReads(.relayBacklog) } else { transport.resumeReads(.relayBacklog) }
    }

    private func handle(_ event: HTTP1Event<HTTP1RequestHead>) {
        switch event {
        case .head(let head):
            startRequest(head)
        case .body(let bytes):
            guard let stream = exchange.stream else { return }
            // Owed first: the relay may credit these bytes back before it returns.
            requestBytesOwed += bytes.count
            Relay.requestData(stream, bytes, now: worker.loop.now)
        case .end(let trailers):
            exchange.requestEnded = true
            if let stream = exchange.stream { Relay.requestEnd(stream, trailers: trailers) }
            if exchange.response == .complete { scheduleFlush() }
        }
    }

    /// A new request: a stream for it, routed and forwarded like any other.
    private func startRequest(_ head: HTTP1RequestHead) {
        worker.metrics.increment(.http1Requests)
        requestsStarted += 1
        lastStreamID = lastStreamID == Int32.max ? 1 : lastStreamID + 1
        let hasBody: Bool
        switch head.framing {
        case .none, .contentLength(0): hasBody = false
        default: hasBody = true
        }
        let stream = ProxyStream(downstream: self, downstreamID: lastStreamID, requestEnded: !hasBody, now: worker.loop.now)
        exchange = Exchange(stream: stream, requestEnded: false,
                            isHEAD: head.headers.withValue(of: ":method") { Self.isHEAD($0) } ?? false,
                            keepAlive: head.keepAlive, minorVersion: head.minorVersion,
                            expectsContinue: head.expectsContinue && hasBody)
        if listener.accessLog { stream.access = AccessLogFields(head: head.headers) }
        worker.forwarder.dispatch(stream, headers: head.headers)
        // The request is on its way upstream (or waits for an attempt) and nothing final
        // was answered: the client may send its body now.
        if exchange.expectsContinue, exchange.stream === stream, exchange.response == .awaiting,
           stream.state == .routing || stream.state == .awaitingResponse {
            HTTP1Writer.continue100.withUnsafeBytes { output.append($0) }
            exchange.continueSent = true
            scheduleFlush()
        }
    }

    private static func isHEAD(_ method: UnsafeRawBufferPointer) -> Bool {
        method.count == 4 && method[0] == 0x48 && method[1] == 0x45 && method[2] == 0x41 && method[3] == 0x44
    }

    /// The parser refused the input: answer its status (unless a response already started,
    /// then close at once), and close.
    private func parseFailed(_ error: HTTP1ParseError) {
        worker.metrics.http1ParseErrors[.init(side: "downstream", reason: error.reason), default: 0] &+= 1
        worker.log("HTTP/1.1 client sent a malformed request: \(error.reason) (\(error.status))", limitedBy: "http1-parse-error")
        if let stream = exchange.stream {
            // A body went wrong mid-request: what was forwarded cannot be completed.
            exchange.requestEnded = true
            Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
            guard exchange.response == .awaiting, stream.state != .done, stream.state != .responding else {
                reset(stream, errorCode: H2ErrorCode.protocolError)
                return
            }
            stream.state = .done
            stream.responseCreditConnection = nil
            stream.countResponse(status: error.status)
            stream.access?.status = error.status
            stream.access?.reason = error.reason
        } else {
            worker.metrics.unrouted.count(status: error.status)
        }
        exchange.keepAlive = false
        var headers = HeaderBlock()
        headers.append(name: "content-type", value: "text/plain; charset=utf-8")
        headers.append(name: "x-causeway-reason", value: error.reason)
        writeLocalResponse(status: error.status, headers: headers, message: "the request is malformed (\(error.reason))")
        if exchange.stream == nil { closeGracefully() }
    }

    /// The client finished sending (EOF). What it sent whole is still answered.
    private func peerFinishedSending() {
        peerFinished = true
        if exchange.stream != nil && !exchange.requestEnded {
            // Cut short mid-request: nothing can complete it.
            close(reason: "client closed mid-request")
            return
        }
        if exchange.stream == nil && pendingCount == 0 {
            close(reason: "peer closed the connection")
            return
        }
        // Reads pause while input waits unparsed, so nothing is pending here: the response in
        // flight is the last one.
        exchange.keepAlive = false
        scheduleFlush()
    }

    // MARK: The response side, for Relay

    /// Sends the upstream's response head.
    func respond(_ stream: ProxyStream, headers: HeaderBlock, endStream: Bool, status: Int) {
        guard stream === exchange.stream, stream.state != .done, !isClosed else { return }
        stream.state = endStream ? .done : .responding
        stream.countResponse(status: status)
        stream.access?.status = status
        // The sidecar names the cluster that served the response (built once per backend).
        let named = role == .sidecar && worker.settings.upstreamClusterHeader ? stream.backend : nil
        let scan = headers.scanResponseFields(also: named == nil ? nil : BackendState.upstreamClusterHeader)
        let plan = HTTP1ResponsePlan.make(status: status, contentLength: scan.contentLength, endStream: endStream,
                                          requestIsHEAD: exchange.isHEAD, clientMinorVersion: exchange.minorVersion,
                                          keepAlive: keepAliveAfterResponse)
        exchange.keepAlive = plan.keepAlive
        scratch.removeAll(keepingCapacity: true)
        // An upstream's own field of that name is replaced (an edited copy of the block, rare);
        // else the field line goes in before the head's final CRLF (no copy of the block).
        let replacing = named != nil && scan.hasAlso
        HTTP1Writer.appendResponseHead(status: status, headers: replacing ? named!.upstreamClusterEdit.applied(to: headers) : headers,
                                       framing: plan.headFraming, keepAlive: plan.keepAlive,
                                       announceKeepAlive: plan.keepAlive && exchange.minorVersion == 0, to: &scratch)
        if let named, !replacing {
            scratch.removeLast(2)
            scratch.append(contentsOf: named.upstreamClusterLine)
            scratch.append(contentsOf: Self.crlfBytes)
        }
        scratch.withUnsafeBytes { output.append($0) }
        switch plan.body {
        case .none:
            exchange.response = .complete
        case .contentLength(let n):
            exchange.response = .body(plan.body, remaining: n)
        default:
            exchange.response = .body(plan.body, remaining: 0)
        }
        if !endStream {
            if spareBody.bufferedBytes == 0 { spareBody.restart() } else { spareBody = H2OutboundBody() }
            stream.responseBody = spareBody
        }
        scheduleFlush()
    }

    private static let crlfBytes: [UInt8] = [0x0D, 0x0A]

    /// Whether the connection may serve another request after this exchange's response.
    private var keepAliveAfterResponse: Bool {
        // A client told to wait for 100 Continue that did not get it may or may not send its
        // body after our final response: the stream of bytes can no longer be trusted.
        let bodyInDoubt = exchange.expectsContinue && !exchange.continueSent && !exchange.requestEnded
        return exchange.keepAlive && lifecycle == .open && !peerFinished && !bodyInDoubt
    }

    /// Queues response body bytes; false (nothing queued) when the connection would hold
    /// more unread response bytes than its limit.
    func sendResponseBody(_ bytes: UnsafeRawBufferPointer, on body: H2OutboundBody) -> Bool {
        guard bufferedResponseBytes + bytes.count <= worker.settings.limits.maxBufferedResponseBytesPerConnection else { return false }
        bufferedResponseBytes += bytes.count
        body.append(bytes)
        scheduleFlush()
        return true
    }

    /// Ends a response body, with trailers if any (sent only in chunked framing).
    func finishResponse(_ body: H2OutboundBody, trailers: HeaderBlock?) {
        body.end(trailers: trailers)
        scheduleFlush()
    }

    /// Relayed response bytes left the queue (framed, or dropped).
    func responseBytesLeft(_ count: Int) {
        bufferedResponseBytes -= count
    }

    /// Request bytes were framed upstream (or dropped): the client may send as many more.
    func returnRequestCredit(_ stream: ProxyStream, count: Int) {
        let wasOver = requestBytesOwed > requestBacklogLimit
        requestBytesOwed = max(0, requestBytesOwed - count)
        // Reads resume (and held input is parsed) at the end of the pass.
        if wasOver && requestBytesOwed <= requestBacklogLimit { scheduleFlush() }
    }

    /// Answers the request with a proxy-made response (or ends the connection if a response
    /// already started).
    func fail(_ stream: ProxyStream, _ failure: ProxyFailure) {
        guard stream === exchange.stream, !isClosed else { return }
        guard stream.state != .done, stream.state != .responding else {
            reset(stream, errorCode: H2ErrorCode.internalError)
            return
        }
        stream.state = .done
        // This body is ours: its bytes must not be credited to any upstream.
        stream.responseCreditConnection = nil
        stream.countResponse(status: failure.status)
        stream.access?.status = failure.status
        stream.access?.reason = failure.reason
        // A request that did not arrive in time will not: its connection goes with the answer.
        exchange.keepAlive = keepAliveAfterResponse && failure != .requestTimeout
        let text = failure.message + "\n"
        writeLocalResponse(status: failure.status, headers: failure.headers(bodyLength: text.utf8.count), message: failure.message)
        // The request body, if still arriving, is dropped and its credit returned as it comes.
    }

    /// Writes a whole proxy-made response: `headers` (with `x-causeway-reason`; the writer
    /// frames it, keeping their content-length only for HEAD) and `message` as a line of text.
    private func writeLocalResponse(status: Int, headers: HeaderBlock, message: String) {
        let text = message + "\n"
        let length = UInt64(text.utf8.count)
        scratch.removeAll(keepingCapacity: true)
        HTTP1Writer.appendResponseHead(status: status, headers: headers, framing: exchange.isHEAD ? .none : .contentLength(length),
                                       keepAlive: exchange.keepAlive,
                                       announceKeepAlive: exchange.keepAlive && exchange.minorVersion == 0, to: &scratch)
        if !exchange.isHEAD { scratch.append(contentsOf: text.utf8) }
        scratch.withUnsafeBytes { output.append($0) }
        exchange.response = .complete
        scheduleFlush()
    }

    /// Abandons the request: HTTP/1.1 has no way to cancel one message, so the connection
    /// ends at once (at the end of this pass, with what the socket takes of the output now);
    /// a client in the middle of its response sees it truncated.
    func reset(_ stream: ProxyStream, errorCode: UInt32) {
        guard stream === exchange.stream else { return }
        stream.state = .done
        if stream.responseCreditConnection != nil, let body = stream.responseBody {
            responseBytesLeft(body.discard())
        }
        stream.responseCreditConnection = nil
        worker.metrics.increment(.streamsReset)
        abort("request abandoned (error \(errorCode))")
    }

    /// Ends the connection at the end of this pass, whatever is queued.
    private func abort(_ reason: String) {
        guard abortReason == nil, !transport.isClosed else { return }
        abortReason = reason
        scheduleFlush()
    }

    // MARK: Output

    /// Asks for one flush at the end of this loop pass.
    private func scheduleFlush() {
        guard !flushScheduled && !transport.isClosed else { return }
        flushScheduled = true
        context.loop.scheduleFlush(self)
    }

    func loopFlush() {
        flushScheduled = false
        guard !transport.isClosed else { return }
        if let reason = abortReason {
            // One last try to hand the socket what is queued; nothing more is waited for.
            let (_, sent) = transport.write(&output)
            worker.metrics.increment(.downstreamBytesSent, by: Int64(sent))
            close(reason: reason)
            return
        }
        for _ in 0..<8 {
            frameResponseBody()
            finishExchangeIfDone()
            resumeInput()
            if transport.isClosed { return }
            if abortReason != nil { return loopFlush() }
            let (result, sent) = transport.write(&output)
            worker.metrics.increment(.downstreamBytesSent, by: Int64(sent))
            if sent > 0 { lastWriteProgress = context.loop.now }
            switch result {
            case .drained:
                transport.setWantsWrite(false)
                transport.resumeReads(.outputBacklog)
                lastWriteProgress = context.loop.now
                if closeWhenFlushed {
                    linger()
                    return
                }
                // More body may be framed now that the output is empty.
                guard let body = exchange.stream?.responseBody, body.bufferedBytes > 0 || body.ended,
                      case .body = exchange.response else { return }
            case .blocked:
                transport.setWantsWrite(true)
                if output.pendingBytes >= Self.outputHighWater {
                    transport.pauseReads(.outputBacklog)
                } else {
                    transport.resumeReads(.outputBacklog)
                }
                return
            case .failed(let code):
                close(reason: SystemError("writev", code: code).description)
                return
            }
        }
        scheduleFlush()
    }

    /// Moves response body bytes from the stream's queue into `output` (by reference), up
    /// to the high-water mark, framed as the plan says; ends the response when its body has.
    private func frameResponseBody() {
        guard !isClosed, let stream = exchange.stream, let body = stream.responseBody,
              case .body(let mode, var remaining) = exchange.response else { return }
        var framed = 0
        let room = max(0, Self.outputHighWater - output.pendingBytes)
        switch mode {
        case .discard:
            framed = body.bufferedBytes
            body.consume(framed)
        case .contentLength:
            if UInt64(body.bufferedBytes) > remaining {
                // More than the upstream announced: the message cannot be framed.
                reset(stream, errorCode: H2ErrorCode.protocolError)
                return
            }
            framed = moveRaw(from: body, limit: room)
            remaining -= UInt64(framed)
        case .chunked:
            let n = min(body.bufferedBytes, room)
            if n > 0 {
                scratch.removeAll(keepingCapacity: true)
                HTTP1Writer.appendChunkHeader(size: n, to: &scratch)
                scratch.withUnsafeBytes { output.append($0) }
                framed = moveRaw(from: body, limit: n)
                output.append(UnsafeRawBufferPointer(start: Self.crlf.utf8Start, count: 2))
            }
        case .untilClose:
            framed = moveRaw(from: body, limit: room)
        case .none:
            break
        }
        exchange.response = .body(mode, remaining: remaining)
        if framed > 0 { Relay.responseSent(stream, count: framed, now: context.loop.now) }
        guard body.ended, body.bufferedBytes == 0, !isClosed else { return }
        switch mode {
        case .chunked:
            scratch.removeAll(keepingCapacity: true)
            HTTP1Writer.appendLastChunk(trailers: body.trailers, to: &scratch)
            scratch.withUnsafeBytes { output.append($0) }
        case .contentLength where remaining > 0:
            // Fewer bytes than announced: the client must see the message cut short.
            reset(stream, errorCode: H2ErrorCode.protocolError)
            return
        case .untilClose:
            exchange.keepAlive = false
        default:
            break
        }
        exchange.response = .complete
    }

    private static let crlf: StaticString = "\r\n"

    /// Appends up to `limit` queued bytes of `body` to `output` by reference and consumes
    /// them; returns how many.
    private func moveRaw(from body: H2OutboundBody, limit: Int) -> Int {
        var moved = 0
        while moved < limit, let run = body.peek(limit: limit - moved) {
            output.appendReference(run.chunk, offset: run.offset, count: run.count)
            body.consume(run.count)
            moved += run.count
        }
        return moved
    }

    /// Ends the exchange once its request was read whole and its response is all queued:
    /// the stream closes (access log, durations), and the next request may be parsed.
    /// A response that closes the connection does not wait for the rest of its request (a
    /// client refused before its `100 Continue` may never send it): lingering drops it.
    private func finishExchangeIfDone() {
        guard let stream = exchange.stream, exchange.response == .complete, !isClosed,
              exchange.requestEnded || !exchange.keepAlive else { return }
        let now = context.loop.now
        let keepAlive = exchange.keepAlive && lifecycle == .open
        exchange = Exchange()
        idleSince = now
        Relay.downstreamClosed(stream, errorCode: 0)
        if let backend = stream.backend { backend.counters.durations.observe(nanos: now &- stream.startedAt) }
        if let access = stream.access {
            worker.logAccess(access.record(cluster: worker.settings.cluster, listener: listener.name, peerIdentity: nil,
                                           startedAt: stream.startedAt, now: now))
        }
        if !keepAlive || (peerFinished && pendingCount == 0) { closeGracefully() }
    }

    /// Closes once everything queued is written.
    private func closeGracefully() {
        guard !closeWhenFlushed, !transport.isClosed else { return }
        closeWhenFlushed = true
        scheduleFlush()
    }

    /// Output is written and the connection closes: shut our side and read (and drop) what
    /// the client still sends until its EOF, so closing with unread input does not reset
    /// the connection and destroy the response before the client read it.
    private func linger() {
        if peerFinished {
            close(reason: "done")
            return
        }
        _ = Glibc.shutdown(transport.fd, Int32(SHUT_WR))
        lifecycle = .lingering(since: context.loop.now)
        transport.resumeReads(.nothingExpected)
        transport.resumeReads(.relayBacklog)
        transport.resumeReads(.outputBacklog)
    }

    // MARK: Lifecycle

    /// Takes no new request: closes now if idle, else after the response in flight.
    func drain() {
        guard lifecycle == .open, !isClosed else { return }
        lifecycle = .draining(since: context.loop.now)
        if exchange.stream == nil { closeGracefully() }
    }

    /// The worker's once-a-second check: linger, drain, stalled output, header, age, idle
    /// and stream timeouts.
    func sweep(now: UInt64) {
        let timeouts = worker.settings.timeouts
        switch lifecycle {
        case .lingering(let since):
            if now &- since > Self.lingerNanos { close(reason: "closed after lingering") }
            return
        case .draining(let since):
            if now &- since > timeouts.drainNanos {
                worker.metrics.increment(.drainHardCloses)
                close(reason: "still open \(timeouts.drainNanos / 1_000_000) ms after draining began")
                return
            }
        case .open:
            break
        }
        // The client taking bytes from the socket is progress for the response behind them.
        let clientReading = output.pendingBytes > 0 && noteKernelProgress(now: now)
        if output.pendingBytes > 0 && now &- lastWriteProgress > timeouts.streamIdleNanos {
            worker.metrics.increment(.stalledWriteCloses)
            close(reason: "client took no output for \(timeouts.streamIdleNanos / 1_000_000_000) s")
            return
        }
        if parser.headPending {
            if headPendingSince == 0 || headPendingMark != requestsStarted {
                headPendingSince = now
                headPendingMark = requestsStarted
            } else if now &- headPendingSince > timeouts.requestHeadersNanos {
                worker.metrics.increment(.requestHeaderTimeouts)
                close(reason: "request head not completed in time")
                return
            }
        } else {
            headPendingSince = 0
        }
        if timeouts.maxConnectionAgeNanos > 0 && now &- acceptedAt > timeouts.maxConnectionAgeNanos && lifecycle == .open {
            worker.metrics.increment(.connectionAgeDrains)
            drain()
        }
        guard let stream = exchange.stream else {
            if now &- idleSince > timeouts.downstreamIdleNanos && lifecycle == .open {
                worker.metrics.increment(.idleDrains)
                drain()
            } else if output.isEmpty {
                output.releaseSpare()
                transport.trimIdleMemory()
            }
            return
        }
        if clientReading, let body = stream.responseBody, body.bufferedBytes > 0 { stream.lastProgress = now }
        Relay.expireIfDue(stream, now: now, timeouts: timeouts)
    }

    /// Counts the client acknowledging bytes the kernel holds as write progress (see
    /// `H2Connection.noteKernelProgress`). Returns true when it took bytes since the last call.
    private func noteKernelProgress(now: UInt64) -> Bool {
        guard let unacknowledged = Sockets.unacknowledgedBytes(transport.fd) else { return false }
        defer { lastUnacknowledged = unacknowledged }
        guard lastUnacknowledged >= 0 && unacknowledged < lastUnacknowledged else { return false }
        lastWriteProgress = now
        return true
    }

    /// Closes the socket and ends the stream in flight. Idempotent.
    func close(reason: String) {
        guard !transport.isClosed else { return }
        transport.close()
        output.removeAll()
        worker.metrics.increment(.downstreamConnectionsActive, by: -1)
        worker.metrics.increment(.http1DownstreamConnectionsActive, by: -1)
        if let stream = exchange.stream {
            exchange.stream = nil
            Relay.downstreamClosed(stream, errorCode: H2ErrorCode.cancel)
        }
        worker.downstreamClosed(self)
    }
}

extension HTTP1DownstreamConnection: RelayDownstream {}
