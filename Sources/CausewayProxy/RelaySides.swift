import CausewayHTTP

/// The downstream side of a proxied request, as `Relay` and `Forwarder` use it: what the
/// relay may ask of a client connection, whatever its protocol. `DownstreamConnection`
/// (HTTP/2) is the one conformer today; an HTTP/1.1 connection implements the same set
/// (its "reset" closes the connection, its credit is TCP backpressure).
///
/// Loop-bound: every call happens on the connection's worker.
protocol RelayDownstream: AnyObject {
    /// The worker the connection lives on (and that outlives it).
    var worker: Worker { get }
    /// What the listener serves.
    var role: TrafficRole { get }
    /// `x-forwarded-client-cert` for this client's requests (gateway listeners).
    var forwardedClientCert: [UInt8] { get }
    /// True once the connection is closed.
    var isClosed: Bool { get }

    /// Sends the upstream's response head (`status` already parsed from it).
    func respond(_ stream: ProxyStream, headers: HeaderBlock, endStream: Bool, status: Int)
    /// Queues response body bytes on `body`; false (nothing queued) when the connection
    /// would hold more unread response than its limit.
    func sendResponseBody(_ bytes: UnsafeRawBufferPointer, on body: H2OutboundBody) -> Bool
    /// Ends a response body, with trailers if any.
    func finishResponse(_ body: H2OutboundBody, trailers: HeaderBlock?)
    /// Relayed response bytes left the queue (sent or dropped).
    func responseBytesLeft(_ count: Int)
    /// The client may send `count` more request bytes on `stream`.
    func returnRequestCredit(_ stream: ProxyStream, count: Int)
    /// Answers the request with a proxy-made response (or resets it if a response started).
    func fail(_ stream: ProxyStream, _ failure: ProxyFailure)
    /// Abandons the client's stream with `errorCode`.
    func reset(_ stream: ProxyStream, errorCode: UInt32)
}

/// The upstream side of a proxied request (one attempt), as `Relay` uses it.
/// `UpstreamConnection` (HTTP/2, h2c or mTLS) is the one conformer today; a pooled HTTP/1.1
/// connection to a local endpoint implements the same set.
///
/// Loop-bound: every call happens on the connection's worker.
protocol RelayUpstream: AnyObject {
    /// True once the connection is closed.
    var isClosed: Bool { get }

    /// Queues request body bytes on `body`.
    func sendRequestBody(_ bytes: UnsafeRawBufferPointer, on body: H2OutboundBody)
    /// Ends the request body, with trailers if any.
    func finishRequest(_ body: H2OutboundBody, trailers: HeaderBlock?)
    /// Abandons `stream`'s attempt with `errorCode`.
    func resetStream(_ stream: ProxyStream, errorCode: UInt32)
    /// Drops what `body` still holds; returns the bytes dropped (credit owed downstream).
    func abandonRequestBody(_ body: H2OutboundBody) -> Int
    /// The client took `count` response bytes of `stream`: the upstream may send as many more.
    func returnResponseCredit(_ stream: ProxyStream, count: Int)
    /// Forgets `stream` (its client went away).
    func detach(_ stream: ProxyStream)
}

extension DownstreamConnection: RelayDownstream {}
extension UpstreamConnection: RelayUpstream {}
