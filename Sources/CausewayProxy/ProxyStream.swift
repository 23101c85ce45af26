import CausewayHTTP
import CausewayMesh

/// One request on its way through the proxy: a downstream stream paired with at most one
/// upstream stream, and the two bodies moving between them.
///
/// Window credit follows the bytes: what the downstream sent us is returned to it only when
/// the upstream session has framed it (`bodySent`), and vice versa, so a slow reader on
/// either side slows the writer on the other and memory stays bounded.
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

    // unowned(unsafe): a stream is dropped from every table (and detached from its upstream)
    // when its downstream connection closes; safe `unowned` costs an atomic per access.
    unowned(unsafe) let downstream: DownstreamConnection
    let downstreamID: Int32
    var state: State = .routing
    /// The upstream connection and stream, once submitted.
    var upstream: UpstreamConnection?
    var upstreamID: Int32 = 0
    /// The connection owed window credit for response bytes still buffered towards the
    /// downstream. Outlives `upstream` (cleared when the upstream stream closes), because
    /// a response that ended upstream may still be draining downstream.
    var responseCreditConnection: UpstreamConnection?
    /// The request headers, kept until the request is submitted (and for a retry after
    /// GOAWAY when no body byte was sent).
    var requestHeaders: HeaderBlock?
    /// How the request's headers change on the way upstream (XFCC at a gateway, the remote
    /// `:authority` for a mirrored service).
    var requestEdit = HeaderEdit.none
    /// Request body towards the upstream; nil when the request ended with its headers.
    var requestBody: H2OutboundBody?
    /// True once the downstream ended its half of the stream.
    var requestEnded: Bool
    /// Response body towards the downstream.
    var responseBody: H2OutboundBody?
    /// True once the upstream ended its half.
    var responseEnded = false
    /// The service's metrics, nil for requests that matched no service.
    var counters: ServiceCounters?
    /// The routed service (index in the snapshot the request was routed with, and its key
    /// to check the index still means the same service on a retry).
    var serviceIndex = -1
    var serviceKey: ServiceKey?
    /// Request body bytes handed to the upstream session so far.
    var requestBytesForwarded = 0
    /// True after one replay on another connection (at most one per request).
    var retried = false

    init(downstream: DownstreamConnection, downstreamID: Int32, requestEnded: Bool) {
        self.downstream = downstream
        self.downstreamID = downstreamID
        self.requestEnded = requestEnded
    }

    /// The upstream will never frame the request bytes still queued for it: drop them and
    /// return their window credit to the downstream (connection-level if its stream is
    /// closed), so the client's connection window never leaks.
    func releaseQueuedRequest(from upstream: UpstreamConnection?) {
        guard let body = requestBody, body.bufferedBytes > 0 else { return }
        let dropped = upstream?.session.abandon(body) ?? body.discard()
        guard !downstream.isClosed else { return }
        downstream.session.consume(streamID: downstreamID, count: dropped)
        downstream.scheduleFlush()
    }
}
