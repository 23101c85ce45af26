import CausewayBytes
import CausewayHTTP
import CausewayLoop

/// The request side: what `Relay` asks of the connection (body, end, reset, credit) and
/// the request on the wire written from it, head, body by reference, end.
extension HTTP1UpstreamConnection {
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

    func remove(_ stream: ProxyStream) {
        guard let i = queue.firstIndex(where: { $0.stream === stream }) else { return }
        let onTheWire = i == 0 && queue[0].headWritten
        queue.remove(at: i)
        if onTheWire {
            responseUnacked = 0
            requestClose("request abandoned mid-exchange")
        }
    }

    // MARK: Writing

    func scheduleFlush() {
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
            if isClosing { return loopFlush() }
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
    func frameRequest() {
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
            framed = output.appendReferences(from: body, limit: room)
            queue[0].remaining -= UInt64(framed)
        case .chunked:
            let n = min(body.bufferedBytes, room)
            if n > 0 {
                scratch.removeAll(keepingCapacity: true)
                HTTP1Writer.appendChunkHeader(size: n, to: &scratch)
                scratch.withUnsafeBytes { output.append($0) }
                framed = output.appendReferences(from: body, limit: n)
                scratch.removeAll(keepingCapacity: true)
                HTTP1Writer.appendChunkEnd(to: &scratch)
                scratch.withUnsafeBytes { output.append($0) }
            }
        case .none, .untilClose:
            break
        }
        if framed > 0 { Relay.requestSent(stream, count: framed, now: context.loop.now) }
        guard !isClosing, !queue.isEmpty, queue[0].stream === stream, body.ended, body.bufferedBytes == 0 else { return }
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
}
