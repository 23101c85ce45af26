import CausewayHTTP
import CausewayLoop
import CausewayMesh

/// One request on its way through the proxy: a downstream stream paired with at most one
/// upstream stream (an attempt), and the two bodies moving between them. Only `Relay`
/// moves bytes, credit and resets between the two sides.
///
/// Window credit follows the bytes: what the downstream sent us is returned to it only when
/// the upstream session has framed it, and response bytes are credited to the upstream
/// *stream* only when the downstream took them (the upstream *connection*'s window is
/// returned as bytes arrive, so one slow client cannot stall a shared connection).
final class ProxyStream {
    /// Where the request is in its life.
    enum State {
        /// Headers received; waiting for an upstream stream (or a proxy-made response).
        case routing
        /// Submitted upstream; no response headers yet.
        case awaitingResponse
        /// Response headers sent downstream; body and trailers may follow.
        case responding
        /// Nothing more will be forwarded; waiting for both streams to close.
        case done
    }

    /// The client side. unowned(unsafe) (safe `unowned` costs an atomic per access), which
    /// is sound only by this invariant: when the downstream stream closes
    /// (`Relay.downstreamClosed`, also for every stream of a closing connection), the stream
    /// is dropped from every table of its downstream and detached from its upstream
    /// connection at once, whatever that connection's state (closing included), so no
    /// upstream, timer or retry ever reports on it again; the connection may be freed right
    /// after. `downstreamGone` marks such a stream, and `Relay` refuses it.
    unowned(unsafe) let downstream: any RelayDownstream
    /// True once the downstream stream closed: nothing may touch this stream any more
    /// (see `downstream`).
    var downstreamGone = false
    let downstreamID: Int32
    var state: State = .routing
    /// The upstream connection and stream, once submitted.
    var upstream: (any RelayUpstream)?
    var upstreamID: Int32 = 0
    /// The connection owed stream credit for response bytes still buffered towards the
    /// downstream. Outlives `upstream` (cleared when the upstream stream closes), because
    /// a response that ended upstream may still be draining downstream.
    var responseCreditConnection: (any RelayUpstream)?
    /// The request headers, kept until the request is submitted (and for a retry after
    /// GOAWAY when no body byte was sent).
    var requestHeaders: HeaderBlock?
    /// How the request's headers change on the way upstream (XFCC, the remote `:authority`
    /// of a mirrored service).
    var requestEdit = HeaderEdit.none
    /// Request body towards the upstream; nil when the request ended with its headers.
    var requestBody: H2OutboundBody?
    /// True once the downstream ended its half of the stream.
    var requestEnded: Bool
    /// Response body towards the downstream.
    var responseBody: H2OutboundBody?
    /// True once the upstream ended its half.
    var responseEnded = false
    /// The routed backend (service state on this worker); nil until routed, and for
    /// requests answered without one.
    var backend: BackendState?
    /// Request body bytes received from the client so far (all attempts).
    var requestBytesReceived = 0
    /// Request body bytes handed to the upstream session so far.
    var requestBytesForwarded = 0
    /// What to answer if the upstream stream closes before its response started, when the
    /// upstream side already knows why (its response headers were too large).
    var upstreamFailure: ProxyFailure?
    /// When the request's headers arrived (monotonic ns): the request timeout counts from here.
    let startedAt: UInt64
    /// When bytes last moved for this stream in either direction (monotonic ns): the stream
    /// idle timeout counts from here.
    var lastProgress: UInt64
    /// True when the proxy reset the client's stream because the upstream failed: not the
    /// client's doing, so not counted against it (`ResetTracker`).
    var resetForUpstream = false
    /// Access log fields; nil unless the listener logs requests.
    var access: AccessLogFields?
    /// The routing rule this request matched (its timeouts, retries and metrics); nil when
    /// its service has no HTTPRoute.
    var rule: RuleState?
    /// The current attempt's endpoint: its position in `backend.pools`, or -1.
    var host = -1
    /// The current attempt's pool (its requests in flight count this attempt).
    var attemptPool: UpstreamPool?
    /// The route backend's counters, when a route chose the backend.
    var routeCounters: ServiceCounters?
    /// The clusterset service the request named, when `backend` is one of its members.
    var clusterset: BackendState?
    /// Request trailers kept with `replay` for a retry.
    var replayTrailers: HeaderBlock?
    /// True while an attempt is counted in `backend`'s active requests per host.
    var attemptActive = false
    /// Retries made so far (under the retry policy), and replays of refused streams.
    var retries = 0
    var transparentRetries = 0
    /// True once an attempt after the first was made: its body is replayed.
    var isReplay: Bool { retries + transparentRetries > 0 }
    /// The request body kept for a retry (at most `Retries.replayLimit` bytes); nil once it
    /// grew past the bound (then a retry is possible only before any byte was sent).
    var replay: [UInt8]? = []
    /// Request bytes about to be framed again by a retry: their credit went back to the
    /// client with the first attempt.
    var creditToSkip = 0
    /// The service whose `pending` breaker unit this attempt holds while its connection is
    /// not ready yet.
    var pendingLoad: ServiceLoad?
    /// Breaker units this request holds on `heldBackend`.
    var holdsRequest = false
    var holdsRetry = false
    /// The backend whose breaker the holds are on (the request may move between services
    /// of a clusterset).
    var heldBackend: BackendState?
    /// Per-attempt and whole-request timers (route timeouts), or the retry backoff timer.
    var attemptTimer: TimerID?
    var requestTimer: TimerID?
    var retryTimer: TimerID?
    /// True when the response is gRPC and its outcome waits for `grpc-status` in trailers.
    var grpcPending = false
    /// True for a stream meant to stay open (an export stream feed): the whole-request
    /// deadline does not apply; the idle timeout still does (heartbeats are progress).
    var longLived = false

    init(downstream: any RelayDownstream, downstreamID: Int32, requestEnded: Bool, now: UInt64) {
        self.downstream = downstream
        self.downstreamID = downstreamID
        self.requestEnded = requestEnded
        self.startedAt = now
        self.lastProgress = now
    }

    /// The counters this request's responses are counted in.
    var counters: ServiceCounters { backend?.counters ?? downstream.worker.metrics.unrouted }

    /// Counts the status sent downstream: the service's counters, and the route backend's.
    func countResponse(status: Int) {
        counters.count(status: status)
        routeCounters?.count(status: status)
    }

    /// True when an attempt must carry a request body: the client is still sending, or a
    /// retry replays what it sent.
    var needsRequestBody: Bool {
        !requestEnded || (isReplay && (!(replay?.isEmpty ?? true) || replayTrailers != nil))
    }
}
