import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayTLS

/// A client connection accepted by a listener: h2c with prior knowledge on a sidecar
/// listener, mTLS HTTP/2 on a gateway listener.
///
/// Each new request goes through `Worker.dispatch` (route → balance → forward); body,
/// trailers and resets are then relayed between the two streams of its `ProxyStream`.
final class DownstreamConnection: H2Connection {
    /// The listener's role: what requests may reach and how they are routed.
    let role: TrafficRole
    /// The client's SPIFFE ID (gateway listeners, after the handshake).
    private(set) var peerIdentity: String?
    /// `x-forwarded-client-cert` for this client's requests, built once per connection.
    private(set) var forwardedClientCert: [UInt8] = []
    private var streams: [Int32: ProxyStream] = [:]
    /// Until the client preface is seen, bytes are checked for HTTP/1.1 so such a client
    /// gets a readable error instead of a dropped connection.
    private var prefaceChecked = false
    /// Preface bytes matched so far (the preface may arrive split).
    private var prefaceMatched = 0
    /// When the connection was accepted (monotonic ns), for the handshake timeout.
    let acceptedAt: UInt64
    /// When the last stream closed, or the connection was accepted (monotonic ns); the
    /// worker closes connections idle longer than the idle timeout.
    private(set) var idleSince: UInt64

    init(worker: Worker, fd: Int32, role: TrafficRole, tls: TLSConnection?) {
        self.role = role
        self.acceptedAt = worker.loop.now
        self.idleSince = worker.loop.now
        super.init(worker: worker, fd: fd, session: H2Session(role: .server, settings: worker.settings.downstreamHTTP2), tls: tls)
        worker.metrics.downstreamConnectionsActive += 1
        worker.metrics.downstreamConnectionsTotal += 1
    }

    override func handshakeCompleted() -> Bool {
        peerIdentity = tls?.peerIdentity?.description
        forwardedClientCert = RequestRewrite.forwardedClientCertValue(by: worker.snapshot.tls?.localIdentity, peer: peerIdentity)
        worker.metrics.tlsHandshakes["downstream", default: 0] &+= 1
        return peerIdentity != nil
    }

    override func handshakeFailed(_ error: TLSError) {
        worker.metrics.tlsFailures[.init(side: "downstream", reason: error.reason.rawValue), default: 0] &+= 1
        worker.log("gateway refused a client: \(error)")
    }

    override func countReceived(_ n: Int) { worker.metrics.downstreamBytesReceived &+= UInt64(n) }
    override func countSent(_ n: Int) { worker.metrics.downstreamBytesSent &+= UInt64(n) }

    override func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if !prefaceChecked {
            switch HTTP2Preface.match(bytes, alreadyMatched: prefaceMatched) {
            case .complete: prefaceChecked = true
            case .partial(let n): prefaceMatched = n
            case .mismatch:
                prefaceChecked = true
                // Something that starts like a request line is an HTTP/1.x client; other
                // garbage goes to nghttp2, which answers with a GOAWAY.
                let first = prefaceMatched > 0 ? HTTP2Preface.bytes[0] : (bytes.first ?? 0)
                if first >= 0x41 && first <= 0x5A {
                    rejectHTTP1()
                    return false
                }
            }
        }
        return super.received(bytes)
    }

    private func rejectHTTP1() {
        let message = "HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-type: text/plain\r\nx-causeway-reason: http1-not-supported\r\nconnection: close\r\ncontent-length: 62\r\n\r\nthis listener speaks HTTP/2 only (h2c with prior knowledge)\r\n\r\n"
        var text = message
        text.withUTF8 { _ = Syscall.write(fd, UnsafeRawBufferPointer($0)) }
        close(reason: "HTTP/1.1 client on an HTTP/2 listener")
    }

    // MARK: Events from the client

    override func handle(_ events: [H2Event]) {
        for event in events {
            switch event {
            case .headers(let id, let block, let endStream):
                if let stream = streams[id] {
                    requestTrailers(stream, block)
                } else {
                    let stream = ProxyStream(downstream: self, downstreamID: id, requestEnded: endStream)
                    streams[id] = stream
                    worker.dispatch(stream, headers: block)
                }
            case .data(let id, let bytes):
                // Forward while the upstream stream is open, even after the response ended:
                // a request body must not be cut short behind a clean END_STREAM.
                if let stream = streams[id], let body = stream.requestBody, let up = stream.upstream, !up.isClosed {
                    stream.requestBytesForwarded += bytes.count
                    up.session.send(bytes, on: body)
                    up.scheduleFlush()
                } else {
                    // Nobody will forward these bytes: give the credit back now.
                    session.consume(streamID: id, count: bytes.count)
                }
            case .endStream(let id):
                if let stream = streams[id] {
                    stream.requestEnded = true
                    if let body = stream.requestBody, let up = stream.upstream, !up.isClosed {
                        up.session.finish(body)
                        up.scheduleFlush()
                    }
                }
            case .streamClosed(let id, let code):
                if let stream = streams.removeValue(forKey: id) { downstreamClosed(stream, errorCode: code) }
                if streams.isEmpty {
                    idleSince = worker.loop.now
                    // Deliver what is queued, then close.
                    if peerHalfClosed { closeAfterFlushing() }
                }
            case .bodySent(let id, let count):
                // Response bytes left towards the client: return that credit upstream.
                if let stream = streams[id], let up = stream.responseCreditConnection, !up.isClosed {
                    // nghttp2 returns connection-level credit even if the stream is closed.
                    up.session.consume(streamID: stream.upstreamID, count: count)
                    up.scheduleFlush()
                }
            case .goaway, .settings:
                break
            }
        }
    }

    private func requestTrailers(_ stream: ProxyStream, _ block: HeaderBlock) {
        stream.requestEnded = true
        if let body = stream.requestBody, let up = stream.upstream, !up.isClosed {
            up.session.finish(body, trailers: block)
            up.scheduleFlush()
        }
    }

    /// The client's stream closed: normally after the response, or early (cancel, error).
    private func downstreamClosed(_ stream: ProxyStream, errorCode: UInt32) {
        let unfinished = stream.state != .done
        stream.state = .done
        if let credit = stream.responseCreditConnection, !credit.isClosed,
           let body = stream.responseBody, body.bufferedBytes > 0 {
            // Response bytes we buffered for the client will never be framed: return them.
            credit.session.consume(streamID: stream.upstreamID, count: body.bufferedBytes)
            credit.scheduleFlush()
        }
        stream.responseCreditConnection = nil
        if let up = stream.upstream, !up.isClosed {
            // Still open upstream: either the response is unfinished (client cancel) or the
            // request body is still going out, which nobody needs any more.
            up.session.reset(streamID: stream.upstreamID, errorCode: errorCode == 0 ? H2ErrorCode.cancel : errorCode)
            if unfinished || !stream.responseEnded { worker.metrics.streamsReset &+= 1 }
            stream.releaseQueuedRequest(from: up)
            up.scheduleFlush()
            up.detach(stream)
        }
    }

    // MARK: Responses

    /// Sends upstream response headers to the client.
    func respond(_ stream: ProxyStream, headers: HeaderBlock, endStream: Bool, status: Int) {
        guard stream.state != .done else { return }
        stream.state = endStream ? .done : .responding
        stream.counters?.count(status: status)
        if endStream {
            session.submitResponse(streamID: stream.downstreamID, headers, body: nil)
        } else {
            let body = H2OutboundBody()
            stream.responseBody = body
            session.submitResponse(streamID: stream.downstreamID, headers, body: body)
        }
        scheduleFlush()
    }

    /// Answers a request with a proxy-made error response.
    func fail(_ stream: ProxyStream, _ failure: ProxyFailure) {
        guard stream.state != .done, stream.state != .responding else {
            reset(stream, errorCode: H2ErrorCode.internalError)
            return
        }
        stream.state = .done
        // This body is ours: its bytes must not be credited to any upstream.
        stream.responseCreditConnection = nil
        (stream.counters ?? worker.metrics.unrouted).count(status: failure.status)
        var text = failure.message + "\n"
        let body = H2OutboundBody()
        text.withUTF8 { session.send(UnsafeRawBufferPointer($0), on: body) }
        session.finish(body)
        session.submitResponse(streamID: stream.downstreamID, failure.headers(bodyLength: body.bufferedBytes), body: body)
        // The request body, if still arriving, is dropped and its credit returned as it comes.
        scheduleFlush()
    }

    /// Resets the client's stream (the upstream failed after the response started).
    func reset(_ stream: ProxyStream, errorCode: UInt32) {
        stream.state = .done
        session.reset(streamID: stream.downstreamID, errorCode: errorCode)
        worker.metrics.streamsReset &+= 1
        scheduleFlush()
    }

    /// A client that half-closes still gets the responses to what it sent: stop reading and
    /// close once the last stream is done.
    override func peerFinishedSending() {
        if streams.isEmpty {
            close(reason: "peer closed the connection")
        } else {
            peerHalfClosed = true
            stopReading()
        }
    }

    /// True once the client half-closed: the connection closes when its last stream does.
    private var peerHalfClosed = false

    /// Sends GOAWAY and lets the streams in flight finish; the connection closes when the
    /// last one does (or at once if there is none).
    func drain() {
        session.shutdownGracefully()
        scheduleFlush()
    }

    /// Streams in flight.
    var activeStreams: Int { streams.count }

    override func didClose(reason: String) {
        worker.metrics.downstreamConnectionsActive -= 1
        let open = streams
        streams.removeAll()
        for (_, stream) in open { downstreamClosed(stream, errorCode: H2ErrorCode.cancel) }
        worker.downstreamClosed(self)
    }
}

/// Recognises the HTTP/2 connection preface at the start of a connection, possibly split
/// across reads.
enum HTTP2Preface {
    static let bytes: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    enum Match: Equatable {
        /// The whole preface has been seen.
        case complete
        /// So far so good: this many preface bytes matched in total.
        case partial(Int)
        /// These bytes are not the preface.
        case mismatch
    }

    /// Continues matching the preface with `next`, `alreadyMatched` bytes in.
    static func match(_ next: UnsafeRawBufferPointer, alreadyMatched: Int) -> Match {
        var matched = alreadyMatched
        for b in next {
            if matched == bytes.count { return .complete }
            if b != bytes[matched] { return .mismatch }
            matched += 1
        }
        return matched == bytes.count ? .complete : .partial(matched)
    }
}
