import CausewayHTTP
import CausewayLoop

/// HTTP/1.1 connections to a local endpoint: one request on the wire per connection.
///
/// An idle connection takes the request; else a new one is opened, up to
/// `maxConnectionsPerEndpoint` (and the service's `maxConnections` breaker); past that the
/// connection with the fewest requests queues it until the ones before it are done.
/// Idle connections stay pooled until `upstream.idleTimeout` (or the DestinationRule's), so
/// the idle pool is bounded by the connection limit.
extension UpstreamPool {
    func acquireHTTP1(worker: Worker, for backend: BackendState?) throws(SystemError) -> HTTP1UpstreamConnection? {
        var least: HTTP1UpstreamConnection?
        for c in http1Connections.reversed() where c.acceptsStreams {
            // The most recently opened idle one: older ones are left to time out first.
            if c.activeStreams == 0 { return c }
            if least == nil || c.activeStreams < least!.activeStreams { least = c }
        }
        if http1Connections.count >= worker.settings.maxConnectionsPerEndpoint, let least { return least }
        if let load = backend?.load, !load.breaker.tryAcquire(.connections) {
            worker.metrics.increment(.connectionOverflows)
            return least
        }
        let connection = try open(worker: worker, for: backend) { fd in
            HTTP1UpstreamConnection(worker: worker, pool: self, fd: fd)
        }
        http1Connections.append(connection)
        return connection
    }

    /// Removes an HTTP/1.1 connection that closed or will take no new request.
    func remove(_ connection: HTTP1UpstreamConnection) {
        http1Connections.removeAll { $0 === connection }
    }
}

extension Forwarder {
    /// forward over HTTP/1.1: the request goes on a pooled connection to `pool`'s endpoint
    /// (waiting for its connect, or for the request before it, as an HTTP/2 stream would).
    func forwardHTTP1(_ stream: ProxyStream, headers: HeaderBlock, pool: UpstreamPool) {
        guard let connection = pooledConnection(for: stream, pool: pool, { () throws(SystemError) in
            try pool.acquireHTTP1(worker: worker, for: stream.backend)
        }) else { return }
        connection.submit(stream, headers: headers)
        attemptStarted(stream, pool: pool)
    }
}
