import CausewayHTTP
import CausewayLoop

/// The response side, as `Relay` and `Forwarder` drive it (`RelayDownstream`): heads,
/// bodies, trailers, credit, proxy-made answers and resets.
extension HTTP1DownstreamConnection {
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

    static let crlfBytes: [UInt8] = [0x0D, 0x0A]

    /// Whether the connection may serve another request after this exchange's response.
    var keepAliveAfterResponse: Bool {
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
        // So does one whose body still to come is long or of unknown length: reading it only
        // to drop it would cost without bound (`maxDroppedRequestBytes`).
        exchange.keepAlive = keepAliveAfterResponse && failure != .requestTimeout && requestRestIsShort
        let text = failure.message + "\n"
        writeLocalResponse(status: failure.status, headers: failure.headers(bodyLength: text.utf8.count), message: failure.message)
        // The request body, if still arriving, is dropped and its credit returned as it comes
        // (only its short rest, if the connection stays open).
    }

    /// True when the request body still to come is known and at most
    /// `maxDroppedRequestBytes`: the connection may read and drop it and stay open.
    var requestRestIsShort: Bool {
        // No body, or all of it read (the parser reports a head before its end).
        guard let stream = exchange.stream, !exchange.requestEnded, !stream.requestEnded else { return true }
        guard let length = exchange.requestBodyLength else { return false }
        let received = UInt64(stream.requestBytesReceived)
        return received >= length || length - received <= UInt64(Self.maxDroppedRequestBytes)
    }

    /// Writes a whole proxy-made response: `headers` (with `x-causeway-reason`; the writer
    /// frames it, keeping their content-length only for HEAD) and `message` as a line of text.
    func writeLocalResponse(status: Int, headers: HeaderBlock, message: String) {
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
    func abort(_ reason: String) {
        guard abortReason == nil, !transport.isClosed else { return }
        abortReason = reason
        scheduleFlush()
    }
}
