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
/// This file holds the state and the connection's life (drain, sweep, close); reading and
/// parsing are in `+Input`, the `RelayDownstream` side in `+Response`, output and the end of
/// each exchange in `+Output` (their members are internal for that, not for other types).
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
    enum ResponseProgress: Equatable {
        /// No head yet.
        case awaiting
        /// Head written; the body goes out as the plan says (`remaining`: content-length
        /// bytes still owed).
        case body(HTTP1ResponsePlan.Body, remaining: UInt64)
        /// Head and body are all in `output`.
        case complete
    }

    /// One request and its response.
    struct Exchange {
        var stream: ProxyStream?
        /// The parser delivered the request's end.
        var requestEnded = false
        var isHEAD = false
        /// False once either side asked to close after this exchange.
        var keepAlive = true
        var minorVersion = 1
        /// The request body's content-length (nil: no body, or chunked).
        var requestBodyLength: UInt64?
        /// Request body bytes read and dropped after the stream was done (nobody forwards them).
        var requestBytesDropped = 0
        /// The client waits for `100 Continue` before sending its body.
        var expectsContinue = false
        var continueSent = false
        var response = ResponseProgress.awaiting
    }

    /// Output beyond which response bodies wait in their queues and reads pause.
    static let outputHighWater = H2Connection.outputHighWater
    /// How long a closing connection reads and drops what its client still sends.
    static let lingerNanos: UInt64 = 2_000_000_000
    /// Request body bytes a connection reads and drops after its request was answered
    /// without them (a proxy-made 404, 503..., or an upstream's early answer), to stay
    /// reusable. A rest known to be longer, or of unknown length, closes the connection after
    /// the response instead (`connection: close`, then lingering), and so does dropping more
    /// than this: the request timeout no longer applies once the stream is done, and each
    /// byte read counts as progress, so nothing else would bound it.
    static let maxDroppedRequestBytes = 64 * 1024
    /// Bytes of pipelined input parsed per step, so a body in `pending` respects the
    /// request backlog bound as one read from the socket does.
    static let parseStep = 16 * 1024

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
    /// Where traffic capture found the connection headed, as the access log writes it;
    /// rendered once per connection, and only when the listener logs requests (nil when not
    /// captured).
    let originalDestination: String?

    var parser: HTTP1RequestParser
    var exchange = Exchange()
    /// Bytes read and not parsed yet (pipelined requests), from `pendingStart` on.
    var pending: [UInt8] = []
    var pendingStart = 0
    /// Serialized bytes waiting for the socket.
    var output = OutputQueue()
    /// Heads and chunk lines are built here, then copied into `output` (kept for reuse).
    var scratch: [UInt8] = []
    /// The last stream id handed out (a per-connection counter).
    var lastStreamID: Int32 = 0
    /// Request body bytes read and not yet credited back (framed upstream, or dropped).
    var requestBytesOwed = 0
    /// Above this many owed bytes, reads pause: what an HTTP/2 client's stream window allows.
    let requestBacklogLimit: Int
    /// Relayed response bytes queued for the client and not yet framed.
    var bufferedResponseBytes = 0
    /// The body every response of this connection uses in turn (one at a time), so that a
    /// response costs no body object and, while its bytes fit, no new chunk.
    var spareBody = H2OutboundBody()
    var lifecycle = Lifecycle.open
    /// The client finished sending (EOF): pending requests are still answered, then the
    /// connection closes.
    var peerFinished = false
    /// Close once `output` is written (lingering first).
    var closeWhenFlushed = false
    /// Set when the connection must end at the end of this loop pass, whatever is queued.
    var abortReason: String?
    var flushScheduled = false

    /// When the connection was accepted (monotonic ns).
    let acceptedAt: UInt64
    /// When the last exchange ended, or the connection was accepted.
    var idleSince: UInt64
    /// When the socket last took bytes, or had nothing waiting.
    var lastWriteProgress: UInt64
    /// The socket's unacknowledged bytes at the last `noteKernelProgress` (-1: unknown).
    var lastUnacknowledged = -1
    /// When the sweep first saw the head now in progress unfinished (0: none is).
    var headPendingSince: UInt64 = 0
    /// Requests started then (a later head restarts the clock).
    var headPendingMark = -1
    /// Requests whose head was parsed on this connection.
    var requestsStarted = 0

    init(worker: Worker, fd: Int32, listener: ListenerSpec, originalDestination: SocketAddress? = nil) {
        self.worker = worker
        self.context = worker.context
        self.listener = listener
        self.originalDestination = listener.accessLog ? originalDestination?.description : nil
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
    func noteKernelProgress(now: UInt64) -> Bool {
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
