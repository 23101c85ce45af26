/// One proxied request, as the access log records it. Plain values, built by the worker when
/// a stream ends and rendered by `AccessLogJSON`.
///
/// The request's method, authority and path are bytes, as they came off the wire (they are
/// peer-controlled and need not be UTF-8); the rest comes from configuration or the proxy.
public struct AccessLogRecord: Sendable {
    /// When the request arrived, in nanoseconds since the Unix epoch (`LogClock.realtimeNanos()`).
    public var timeUnixNanos: UInt64
    /// The cluster the request was routed to (empty if it was not routed).
    public var cluster: String
    /// The listener that accepted it.
    public var listener: String
    /// The downstream peer's verified identity (e.g. a SPIFFE ID), if it presented one.
    public var peerIdentity: String?
    /// Where the client's connection was headed when traffic capture redirected it to the
    /// listener (`SO_ORIGINAL_DST`, as `ip:port` or `[ipv6]:port`); nil when it was not
    /// captured.
    public var originalDestination: String?
    public var method: [UInt8]
    public var authority: [UInt8]
    public var path: [UInt8]
    /// The HTTP status sent downstream (0 if none was sent, e.g. a reset stream).
    public var status: Int
    /// Why the proxy answered itself or gave up, e.g. `"no-healthy-upstream"`.
    public var reason: String?
    /// The upstream endpoint used, as `ip:port`.
    public var upstream: String?
    /// The cluster that served the request (`x-causeway-upstream-cluster`), if it was routed.
    public var upstreamCluster: String?
    /// Request body bytes received from downstream.
    public var requestBytes: UInt64
    /// Response body bytes sent downstream.
    public var responseBytes: UInt64
    /// From the request's arrival to the end of its response, in nanoseconds.
    public var durationNanos: UInt64

    public init(
        timeUnixNanos: UInt64, cluster: String, listener: String, peerIdentity: String?,
        method: [UInt8], authority: [UInt8], path: [UInt8],
        status: Int, reason: String?, upstream: String?,
        requestBytes: UInt64, responseBytes: UInt64, durationNanos: UInt64
    ) {
        self.timeUnixNanos = timeUnixNanos
        self.cluster = cluster
        self.listener = listener
        self.peerIdentity = peerIdentity
        self.method = method
        self.authority = authority
        self.path = path
        self.status = status
        self.reason = reason
        self.upstream = upstream
        self.requestBytes = requestBytes
        self.responseBytes = responseBytes
        self.durationNanos = durationNanos
    }

    /// The same with the request's method, authority and path as strings (tests, callers
    /// that already hold strings).
    public init(
        timeUnixNanos: UInt64, cluster: String, listener: String, peerIdentity: String?,
        method: String, authority: String, path: String,
        status: Int, reason: String?, upstream: String?,
        requestBytes: UInt64, responseBytes: UInt64, durationNanos: UInt64
    ) {
        self.init(
            timeUnixNanos: timeUnixNanos, cluster: cluster, listener: listener, peerIdentity: peerIdentity,
            method: Array(method.utf8), authority: Array(authority.utf8), path: Array(path.utf8),
            status: status, reason: reason, upstream: upstream,
            requestBytes: requestBytes, responseBytes: responseBytes, durationNanos: durationNanos
        )
    }
}
