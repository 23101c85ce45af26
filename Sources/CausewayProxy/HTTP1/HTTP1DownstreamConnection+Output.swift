#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes
import CausewayHTTP
import CausewayLoop

/// Output: response bodies framed into the connection's output by reference, the end of
/// each exchange, and closing (lingering first).
extension HTTP1DownstreamConnection {
    /// Asks for one flush at the end of this loop pass.
    func scheduleFlush() {
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
    func frameResponseBody() {
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
            framed = output.appendReferences(from: body, limit: room)
            remaining -= UInt64(framed)
        case .chunked:
            let n = min(body.bufferedBytes, room)
            if n > 0 {
                scratch.removeAll(keepingCapacity: true)
                HTTP1Writer.appendChunkHeader(size: n, to: &scratch)
                scratch.withUnsafeBytes { output.append($0) }
                framed = output.appendReferences(from: body, limit: n)
                output.append(UnsafeRawBufferPointer(start: Self.crlf.utf8Start, count: 2))
            }
        case .untilClose:
            framed = output.appendReferences(from: body, limit: room)
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

    static let crlf: StaticString = "\r\n"

    /// Ends the exchange once its request was read whole and its response is all queued:
    /// the stream closes (access log, durations), and the next request may be parsed.
    /// A response that closes the connection does not wait for the rest of its request (a
    /// client refused before its `100 Continue` may never send it): lingering drops it.
    func finishExchangeIfDone() {
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
                                           originalDestination: originalDestination,
                                           startedAt: stream.startedAt, now: now))
        }
        if !keepAlive || (peerFinished && pendingCount == 0) { closeGracefully() }
    }

    /// Closes once everything queued is written.
    func closeGracefully() {
        guard !closeWhenFlushed, !transport.isClosed else { return }
        closeWhenFlushed = true
        scheduleFlush()
    }

    /// Output is written and the connection closes: shut our side and read (and drop) what
    /// the client still sends until its EOF, so closing with unread input does not reset
    /// the connection and destroy the response before the client read it.
    func linger() {
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
}
