import CausewayHTTP
import CausewayLoop

/// What a request's access log line needs beyond `ProxyStream`'s own fields; kept only on
/// listeners with `accessLog` on, so the common path carries no copies of the head (and a
/// class, so a stream without one carries one nil pointer, not the fields).
final class AccessLogFields {
    var method: [UInt8] = []
    var authority: [UInt8] = []
    var path: [UInt8] = []
    /// The status sent downstream (0: none, the stream was reset before a response).
    var status = 0
    /// `x-causeway-reason` when the proxy answered itself.
    var reason: String?
    /// The last endpoint an attempt went to, and its cluster.
    var upstream: SocketAddress?
    var upstreamCluster: String?
    /// Request body bytes received from the client.
    var requestBytes: UInt64 = 0
    /// Response body bytes sent to the client.
    var responseBytes: UInt64 = 0

    /// Copies the head fields that identify the request (one allocation each, only when
    /// access logging is on).
    init(head: HeaderBlock) {
        method = head.withValue(of: ":method") { Array($0) } ?? []
        authority = head.withValue(of: ":authority") { Array($0) } ?? head.withValue(of: "host") { Array($0) } ?? []
        path = head.withValue(of: ":path") { Array($0) } ?? []
    }

    /// The record for a stream that ended at `now` (monotonic ns). `originalDestination`: the
    /// connection's, rendered once per connection (nil when it was not captured).
    func record(cluster: String, listener: String, peerIdentity: String?, originalDestination: String?,
                startedAt: UInt64, now: UInt64) -> AccessLogRecord {
        var record = AccessLogRecord(
            timeUnixNanos: LogClock.realtimeNanos(), cluster: cluster, listener: listener, peerIdentity: peerIdentity,
            method: method, authority: authority, path: path, status: status, reason: reason,
            upstream: upstream?.description, requestBytes: requestBytes, responseBytes: responseBytes,
            durationNanos: now &- startedAt)
        record.upstreamCluster = upstreamCluster
        record.originalDestination = originalDestination
        return record
    }
}
