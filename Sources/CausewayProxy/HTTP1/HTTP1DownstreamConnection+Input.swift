import CausewayHTTP
import CausewayLoop

/// Reading and parsing: bytes from the socket (or held back while a request was
/// outstanding) go to the parser one request at a time; each head becomes a stream that is
/// dispatched like an HTTP/2 one.
extension HTTP1DownstreamConnection {
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
    func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
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
    var acceptsInput: Bool {
        guard !isClosed, !closeWhenFlushed else { return false }
        if exchange.stream != nil { return !exchange.requestEnded }
        return lifecycle == .open
    }

    var pendingCount: Int { pending.count - pendingStart }

    /// Feeds `bytes` to the parser while it may take them; returns how many it consumed.
    func parse(_ bytes: UnsafeRawBufferPointer) -> Int {
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
    func resumeInput() {
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
    func updateReadInterest() {
        guard !transport.isClosed else { return }
        if case .lingering = lifecycle { return }
        if pendingCount > 0 { transport.pauseReads(.nothingExpected) } else { transport.resumeReads(.nothingExpected) }
        if requestBytesOwed > requestBacklogLimit { transport.pauseReads(.relayBacklog) } else { transport.resumeReads(.relayBacklog) }
    }

    func handle(_ event: HTTP1Event<HTTP1RequestHead>) {
        switch event {
        case .head(let head):
            startRequest(head)
        case .body(let bytes):
            guard let stream = exchange.stream else { return }
            // Owed first: the relay may credit these bytes back before it returns.
            requestBytesOwed += bytes.count
            Relay.requestData(stream, bytes, now: worker.loop.now)
            if stream.state == .done && stream.upstream == nil { noteDroppedRequestBytes(bytes.count) }
        case .end(let trailers):
            exchange.requestEnded = true
            if let stream = exchange.stream { Relay.requestEnd(stream, trailers: trailers) }
            if exchange.response == .complete { scheduleFlush() }
        }
    }

    /// A new request: a stream for it, routed and forwarded like any other.
    func startRequest(_ head: HTTP1RequestHead) {
        worker.metrics.increment(.http1Requests)
        requestsStarted += 1
        lastStreamID = lastStreamID == Int32.max ? 1 : lastStreamID + 1
        let hasBody: Bool
        switch head.framing {
        case .none, .contentLength(0): hasBody = false
        default: hasBody = true
        }
        let stream = ProxyStream(downstream: self, downstreamID: lastStreamID, requestEnded: !hasBody, now: worker.loop.now)
        var bodyLength: UInt64?
        if case .contentLength(let n) = head.framing { bodyLength = n }
        exchange = Exchange(stream: stream, requestEnded: false,
                            isHEAD: head.headers.withValue(of: ":method") { Self.isHEAD($0) } ?? false,
                            keepAlive: head.keepAlive, minorVersion: head.minorVersion, requestBodyLength: bodyLength,
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

    /// Counts request body bytes nobody will forward (the stream is done); past
    /// `maxDroppedRequestBytes` the connection closes after its response rather than read
    /// the rest of the body.
    func noteDroppedRequestBytes(_ count: Int) {
        exchange.requestBytesDropped += count
        guard exchange.keepAlive, exchange.requestBytesDropped > Self.maxDroppedRequestBytes else { return }
        exchange.keepAlive = false
        scheduleFlush()
    }

    static func isHEAD(_ method: UnsafeRawBufferPointer) -> Bool {
        method.count == 4 && method[0] == 0x48 && method[1] == 0x45 && method[2] == 0x41 && method[3] == 0x44
    }

    /// The parser refused the input: answer its status (unless a response already started,
    /// then close at once), and close.
    func parseFailed(_ error: HTTP1ParseError) {
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
    func peerFinishedSending() {
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
}
