import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayMesh
import CausewayTLS

/// A client connection accepted by a listener: h2c with prior knowledge on a sidecar
/// listener (after `ProtocolSniffer` saw its preface, or bytes that are neither HTTP/2 nor
/// HTTP/1.x, which get GOAWAY), mTLS HTTP/2 on a gateway listener.
///
/// Each new request goes to `Forwarder.dispatch` (route → balance → forward); body,
/// trailers, resets and credit then go through `Relay`. The worker's once-a-second sweep
/// calls `sweep(now:)` for timeouts.
final class DownstreamConnection: H2Connection {
    /// The connection's life, apart from "closed" (`isClosed`).
    enum Lifecycle: Equatable {
        /// Serving requests.
        case open
        /// GOAWAY sent at `since` (monotonic ns): in-flight streams finish, then it
        /// closes; at `since + timeouts.drainNanos` it is closed hard.
        case draining(since: UInt64)
    }

    /// Where the client's connection preface stands.
    enum Preface: Equatable {
        /// This many preface bytes matched so far (it may arrive split).
        case awaiting(matched: Int)
        /// Seen whole: everything goes to nghttp2.
        case seen
    }

    /// The listener's role: what requests may reach and how they are routed.
    var role: TrafficRole { listener.role }
    /// The listener this connection came from.
    let listener: ListenerSpec
    /// The client's SPIFFE ID (gateway listeners, after the handshake).
    private(set) var peerIdentity: String?
    /// `x-forwarded-client-cert` for this client's requests, built once per connection.
    private(set) var forwardedClientCert: [UInt8] = []
    /// Where traffic capture found the connection headed, as the access log writes it;
    /// rendered once per connection, and only when the listener logs requests (nil when not
    /// captured).
    let originalDestination: String?
    private var streams: [Int32: ProxyStream] = [:]
    private var preface = Preface.awaiting(matched: 0)
    private(set) var lifecycle = Lifecycle.open
    /// When the connection was accepted (monotonic ns), for the handshake timeout and the
    /// maximum connection age.
    let acceptedAt: UInt64
    /// When the last stream closed, or the connection was accepted (monotonic ns); the
    /// worker closes connections idle longer than the idle timeout.
    private(set) var idleSince: UInt64
    /// When the sweep first saw the header block now in progress (or the preface)
    /// unfinished; 0 when none is.
    private var headersPendingSince: UInt64 = 0
    /// Which block that was (`H2Session.headerBlocksStarted` then): a later block restarts
    /// the clock, so a client that finishes every block is never timed out.
    private var headersPendingBlock = -1
    /// Gateway: authorization verdicts per service, valid for one snapshot version.
    private var verdicts: [Int: (version: Int, verdict: Authorizer.Verdict)] = [:]
    /// How the recent streams ended (rapid-reset detection).
    private var resets = ResetTracker()
    /// Response bytes queued for this client and not yet framed, across its streams.
    private(set) var bufferedResponseBytes = 0
    /// True once the client half-closed: the connection closes when its last stream does.
    private var peerHalfClosed = false

    /// The worker that owns this connection for its whole life (and outlives it).
    /// unowned(unsafe) because safe `unowned` costs an atomic on every access.
    unowned(unsafe) let worker: Worker

    init(worker: Worker, fd: Int32, listener: ListenerSpec, tls: TLSConnection?, originalDestination: SocketAddress? = nil) {
        self.worker = worker
        self.listener = listener
        self.originalDestination = listener.accessLog ? originalDestination?.description : nil
        self.acceptedAt = worker.loop.now
        self.idleSince = worker.loop.now
        super.init(context: worker.context, fd: fd, session: H2Session(role: .server, settings: worker.settings.downstreamHTTP2),
                   tls: tls, connecting: false)
        worker.metrics.increment(.downstreamConnectionsActive)
        worker.metrics.increment(.downstreamConnectionsTotal)
    }

    override func handshakeCompleted() -> Bool {
        peerIdentity = tls?.peerIdentity?.description
        forwardedClientCert = RequestRewrite.forwardedClientCertValue(by: worker.snapshot.tls?.localIdentity, peer: peerIdentity)
        worker.metrics.tlsHandshakes["downstream", default: 0] &+= 1
        return peerIdentity != nil
    }

    override func handshakeFailed(_ error: TLSError) {
        worker.metrics.tlsFailures[.init(side: "downstream", reason: error.reason.rawValue), default: 0] &+= 1
        worker.log("gateway refused a client: \(error)", limitedBy: "tls-refused")
    }

    override func countReceived(_ n: Int) { worker.metrics.increment(.downstreamBytesReceived, by: Int64(n)) }
    override func countSent(_ n: Int) { worker.metrics.increment(.downstreamBytesSent, by: Int64(n)) }

    /// The cached verdict for `service` under snapshot `version`, if any.
    func cachedVerdict(service: Int, version: Int) -> Authorizer.Verdict? {
        guard let entry = verdicts[service], entry.version == version else { return nil }
        return entry.verdict
    }

    /// Caches a verdict (its policies depend on the caller only).
    func cacheVerdict(_ verdict: Authorizer.Verdict, service: Int, version: Int) {
        verdicts[service] = (version, verdict)
    }

    // MARK: The preface

    /// Feeds the bytes the protocol sniffer already read (sidecar listeners), before
    /// anything read from the socket.
    func start(initial: [UInt8]) {
        guard !initial.isEmpty else { return }
        _ = initial.withUnsafeBytes { received($0) }
    }

    override func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if case .awaiting(let matched) = preface {
            switch HTTP2Preface.match(bytes, alreadyMatched: matched) {
            case .complete: preface = .seen
            case .partial(let n): preface = .awaiting(matched: n)
            case .mismatch:
                // Not HTTP/2 (an HTTP/1.x request line went to the HTTP/1.1 connection
                // instead): GOAWAY(PROTOCOL_ERROR), as RFC 9113 §3.4 asks.
                preface = .seen
                session.terminate(errorCode: H2ErrorCode.protocolError)
                closeAfterFlushing()
                return false
            }
        }
        return super.received(bytes)
    }

    // MARK: Events from the client

    override func handle(_ events: [H2Event]) {
        let now = worker.loop.now
        for event in events {
            switch event {
            case .headers(let id, let block, let endStream):
                if let stream = streams[id] {
                    Relay.requestEnd(stream, trailers: block)
                } else {
                    let stream = ProxyStream(downstream: self, downstreamID: id, requestEnded: endStream, now: now)
                    if listener.accessLog { stream.access = AccessLogFields(head: block) }
                    streams[id] = stream
                    worker.forwarder.dispatch(stream, headers: block)
                }
            case .headersTooLarge(let id, let endStream):
                worker.metrics.increment(.headerLimitRejections)
                if let stream = streams[id] {
                    // Trailers over the limit: the request cannot be forwarded whole.
                    Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
                    fail(stream, .headerTooLarge)
                } else {
                    let stream = ProxyStream(downstream: self, downstreamID: id, requestEnded: endStream, now: now)
                    streams[id] = stream
                    fail(stream, .headerTooLarge)
                }
            case .data(let id, let bytes):
                if let stream = streams[id] {
                    Relay.requestData(stream, bytes, now: now)
                } else {
                    session.consume(streamID: id, count: bytes.count)
                }
            case .endStream(let id):
                if let stream = streams[id] { Relay.requestEnd(stream, trailers: nil) }
            case .streamClosed(let id, let code):
                if let stream = streams.removeValue(forKey: id) {
                    Relay.downstreamClosed(stream, errorCode: code)
                    if let backend = stream.backend { backend.counters.durations.observe(nanos: now &- stream.startedAt) }
                    if let access = stream.access {
                        worker.logAccess(access.record(cluster: worker.settings.cluster, listener: listener.name, peerIdentity: peerIdentity,
                                                       originalDestination: originalDestination,
                                                       startedAt: stream.startedAt, now: now))
                    }
                    // A young stream reset by the client, or by us for its behaviour (a
                    // client can provoke our resets too), counts; resets we relay for a
                    // failing upstream do not.
                    let premature = code != H2ErrorCode.noError && !stream.resetForUpstream
                        && now &- stream.startedAt < ResetTracker.minimumLifetimeNanos
                    if resets.record(premature: premature) { calmDown() }
                }
                if streams.isEmpty {
                    idleSince = now
                    // Deliver what is queued, then close.
                    if peerHalfClosed || lifecycle != .open { closeAfterFlushing() }
                }
            case .bodySent(let id, let count):
                // Response bytes left towards the client.
                if let stream = streams[id] { Relay.responseSent(stream, count: count, now: now) }
            case .headersNotSent(let id, _):
                // Response headers nghttp2 could not serialize: nothing else can follow.
                if let stream = streams[id] {
                    reset(stream, errorCode: H2ErrorCode.internalError)
                    Relay.cancelUpstream(stream, errorCode: H2ErrorCode.cancel)
                }
            case .goaway, .settings:
                break
            }
        }
    }

    /// Most recent streams were reset early: GOAWAY ENHANCE_YOUR_CALM, then close.
    private func calmDown() {
        guard !isClosed, lifecycle == .open else { return }
        // Draining: the sweep closes it hard if it does not go away in time.
        lifecycle = .draining(since: worker.loop.now)
        worker.metrics.increment(.prematureResetGoaways)
        worker.log("client sent or provoked too many early resets; GOAWAY ENHANCE_YOUR_CALM", limitedBy: "premature-resets")
        session.terminate(errorCode: H2ErrorCode.enhanceYourCalm)
        closeAfterFlushing()
    }

    override func sessionFailed(_ error: H2SessionError) {
        if error.code == H2SessionError.floodCode { worker.metrics.increment(.floodGoaways) }
    }

    // MARK: The response side, for Relay

    /// Sends upstream response headers to the client.
    func respond(_ stream: ProxyStream, headers: HeaderBlock, endStream: Bool, status: Int) {
        guard stream.state != .done else { return }
        stream.state = endStream ? .done : .responding
        stream.countResponse(status: status)
        stream.access?.status = status
        // The sidecar names the cluster that served the response (the edit is built once per
        // backend and snapshot; read here, where it is used, rather than copied per request).
        let named = role == .sidecar && worker.settings.upstreamClusterHeader
        let body: H2OutboundBody? = endStream ? nil : H2OutboundBody()
        stream.responseBody = body
        if named, let backend = stream.backend {
            session.submitResponse(streamID: stream.downstreamID, headers, edit: backend.upstreamClusterEdit, body: body)
        } else {
            session.submitResponse(streamID: stream.downstreamID, headers, body: body)
        }
        scheduleFlush()
    }

    /// Queues response body bytes. Returns false (queuing nothing) when this connection
    /// would hold more unread response bytes than its limit.
    func sendResponseBody(_ bytes: UnsafeRawBufferPointer, on body: H2OutboundBody) -> Bool {
        guard bufferedResponseBytes + bytes.count <= worker.settings.limits.maxBufferedResponseBytesPerConnection else { return false }
        bufferedResponseBytes += bytes.count
        session.send(bytes, on: body)
        scheduleFlush()
        return true
    }

    /// Queues body bytes of a response this proxy makes itself (the export stream): not
    /// relayed from an upstream, so not counted against the relay buffer limit; the caller
    /// bounds what it queues.
    func sendLocalBody(_ bytes: UnsafeRawBufferPointer, on body: H2OutboundBody) {
        session.send(bytes, on: body)
        scheduleFlush()
    }

    /// Ends a response body, with trailers if any.
    func finishResponse(_ body: H2OutboundBody, trailers: HeaderBlock?) {
        session.finish(body, trailers: trailers)
        scheduleFlush()
    }

    /// Relayed response bytes left the queue (framed, or dropped).
    func responseBytesLeft(_ count: Int) {
        bufferedResponseBytes -= count
    }

    /// Returns `count` bytes of request window on `stream` (and the connection).
    func returnRequestCredit(_ stream: ProxyStream, count: Int) {
        session.consume(streamID: stream.downstreamID, count: count)
        scheduleFlush()
    }

    /// Answers a request with a proxy-made error response (the `respond` stage).
    func fail(_ stream: ProxyStream, _ failure: ProxyFailure) {
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
        var text = failure.message + "\n"
        let body = H2OutboundBody()
        // A body still arriving is not wanted: once the answer is out, the client is told to
        // stop (RST_STREAM NO_ERROR) instead of uploading it all to be discarded.
        body.resetStreamAtEnd = true
        text.withUTF8 { session.send(UnsafeRawBufferPointer($0), on: body) }
        session.finish(body)
        session.submitResponse(streamID: stream.downstreamID, failure.headers(bodyLength: body.bufferedBytes), body: body)
        // The request body, if still arriving, is dropped and its credit returned as it comes
        // until the RST_STREAM goes out.
        scheduleFlush()
    }

    /// Resets the client's stream (the upstream failed after the response started, a
    /// timeout, an overflow). Response bytes still queued for it are dropped now: the reset
    /// may wait behind output a stalled client never takes.
    func reset(_ stream: ProxyStream, errorCode: UInt32) {
        stream.state = .done
        if stream.responseCreditConnection != nil, let body = stream.responseBody {
            responseBytesLeft(body.discard())
        }
        stream.responseCreditConnection = nil
        session.reset(streamID: stream.downstreamID, errorCode: errorCode)
        worker.metrics.increment(.streamsReset)
        scheduleFlush()
    }

    // MARK: Lifecycle

    /// A client that half-closes still gets the responses to what it sent: stop reading and
    /// close once the last stream is done.
    override func peerFinishedSending() {
        if streams.isEmpty {
            close(reason: "peer closed the connection")
        } else {
            // The transport stopped reading at EOF.
            peerHalfClosed = true
        }
    }

    /// Sends GOAWAY once and lets the streams in flight finish; the connection closes when
    /// the last one does (or at once if there is none), or hard after the drain timeout.
    func drain() {
        guard lifecycle == .open, !isClosed else { return }
        lifecycle = .draining(since: worker.loop.now)
        worker.publisher.finishFeeds(on: self)
        session.shutdownGracefully()
        if streams.isEmpty { closeAfterFlushing() } else { scheduleFlush() }
    }

    /// Streams in flight.
    var activeStreams: Int { streams.count }

    /// The worker's once-a-second check: handshake, header, drain, age, idle and stream
    /// timeouts; flood counters decay.
    func sweep(now: UInt64) {
        let timeouts = worker.settings.timeouts
        session.forgiveGlitches(33)
        if !secured {
            if now &- acceptedAt > timeouts.handshakeNanos {
                worker.metrics.tlsFailures[.init(side: "downstream", reason: "handshake-timeout"), default: 0] &+= 1
                close(reason: "tls handshake timed out")
            }
            return
        }
        if case .draining(let since) = lifecycle, now &- since > timeouts.drainNanos {
            worker.metrics.increment(.drainHardCloses)
            close(reason: "still open \(timeouts.drainNanos / 1_000_000) ms after GOAWAY")
            return
        }
        // The client taking bytes from the socket is progress for the connection and for
        // every stream whose response waits behind them.
        let clientReading = pendingOutput > 0 && noteKernelProgress(now: now)
        if pendingOutput > 0 && now &- lastWriteProgress > timeouts.streamIdleNanos {
            worker.metrics.increment(.stalledWriteCloses)
            close(reason: "client took no output for \(timeouts.streamIdleNanos / 1_000_000_000) s")
            return
        }
        if headersPending {
            if headersPendingSince == 0 || headersPendingBlock != session.headerBlocksStarted {
                headersPendingSince = now
                headersPendingBlock = session.headerBlocksStarted
            } else if now &- headersPendingSince > timeouts.requestHeadersNanos {
                worker.metrics.increment(.requestHeaderTimeouts)
                close(reason: "request headers not completed in time")
                return
            }
        } else {
            headersPendingSince = 0
        }
        if timeouts.maxConnectionAgeNanos > 0 && now &- acceptedAt > timeouts.maxConnectionAgeNanos && lifecycle == .open {
            worker.metrics.increment(.connectionAgeDrains)
            drain()
        }
        if streams.isEmpty {
            if now &- idleSince > timeouts.downstreamIdleNanos && lifecycle == .open {
                worker.metrics.increment(.idleDrains)
                drain()
            } else {
                trimIdleMemory()
            }
            return
        }
        for stream in streams.values {
            if clientReading, let body = stream.responseBody, body.bufferedBytes > 0 { stream.lastProgress = now }
            Relay.expireIfDue(stream, now: now, timeouts: timeouts)
        }
    }

    /// True while the client is part-way through its preface or a header block.
    private var headersPending: Bool {
        if case .awaiting(let matched) = preface, matched > 0 { return true }
        return session.headerBlockInProgress
    }

    override func didClose(reason: String) {
        worker.metrics.increment(.downstreamConnectionsActive, by: -1)
        let open = streams
        streams.removeAll()
        for (_, stream) in open { Relay.downstreamClosed(stream, errorCode: H2ErrorCode.cancel) }
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
