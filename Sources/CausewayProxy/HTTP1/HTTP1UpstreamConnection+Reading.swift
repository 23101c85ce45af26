import CausewayBytes
import CausewayHTTP
import CausewayLoop

/// The response side: the endpoint's bytes through the response parser to `Relay`, the end
/// of each exchange, and what closes the connection (a parse error, the endpoint's EOF).
extension HTTP1UpstreamConnection {
    /// Bytes from the endpoint. Returns false to stop reading for now.
    func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
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

    func handle(_ event: HTTP1Event<HTTP1ResponseHead>, of stream: ProxyStream) {
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
    func responseEnded(_ stream: ProxyStream, trailers: HeaderBlock?) {
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
    func completeIfDone() {
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
    func isResponseOver(_ exchange: Exchange) -> Bool {
        exchange.endedWithHead || exchange.stream.responseEnded || exchange.stream.state == .done
    }

    func parseFailed(_ error: HTTP1ParseError, stream: ProxyStream) {
        worker.metrics.http1ParseErrors[.init(side: "upstream", reason: error.reason), default: 0] &+= 1
        worker.log("upstream \(pool.address) sent a malformed response: \(error.reason)", limitedBy: "http1-parse-error")
        if error.reason == "header-too-large" { stream.upstreamFailure = .upstreamHeaderTooLarge }
        close(reason: "malformed response: \(error.reason)")
    }

    /// The endpoint closed its side: ends a close-delimited response, else the exchange on
    /// the wire is lost; then the connection closes.
    func peerClosed() {
        if let first = queue.first, first.headWritten, parser.finishAtEOF() {
            responseEnded(first.stream, trailers: nil)
        }
        close(reason: "upstream closed the connection")
    }
}
