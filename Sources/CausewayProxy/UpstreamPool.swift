#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop
import CausewayMesh
import CausewayTLS

/// What makes two upstream connections interchangeable: the same address, and for mTLS
/// the same expected peer identity, and the same protocol.
struct PoolKey: Hashable {
    let endpoint: EndpointAddress
    /// The SPIFFE ID the peer must present; nil for h2c.
    let identity: String?
    /// HTTP/1.1 (a local endpoint whose port's `appProtocol` is `http`) instead of HTTP/2.
    var http1 = false
}

/// One worker's connections to one endpoint: HTTP/2 ones (`connections`), or HTTP/1.1 ones
/// (`http1Connections`, see `UpstreamPool+HTTP1.swift`) when the key says so.
///
/// A request goes on the connection with the most free streams among those that accept
/// streams; a new connection is opened only when all are full (or gone after GOAWAY),
/// up to `maxConnectionsPerEndpoint`, after which the least loaded connection takes it and
/// nghttp2 queues the stream until the server's limit allows it.
final class UpstreamPool {
    let key: PoolKey
    let address: SocketAddress
    /// The peer identity required over mTLS, parsed once; nil for h2c.
    let identity: SPIFFEID?
    private(set) var connections: [UpstreamConnection] = []
    /// HTTP/1.1 connections (`key.http1`), busy or idle, oldest first.
    var http1Connections: [HTTP1UpstreamConnection] = []
    /// Attempts in flight to this endpoint from this worker (least-request balancing).
    var activeRequests = 0

    init(key: PoolKey, address: SocketAddress, identity: SPIFFEID?) {
        self.key = key
        self.address = address
        self.identity = identity
    }

    /// True when connections to this endpoint use mTLS.
    var usesTLS: Bool { key.identity != nil }

    /// True when requests to this endpoint go over HTTP/1.1.
    var speaksHTTP1: Bool { key.http1 }

    /// True while any connection to this endpoint is in the pool.
    var hasConnections: Bool { !connections.isEmpty || !http1Connections.isEmpty }

    /// A connection for one more stream of `backend`'s service, opening one if needed; nil
    /// when a new connection is needed but the service is at its `maxConnections` breaker
    /// (with connections open, the least loaded one takes the stream instead).
    func acquire(worker: Worker, for backend: BackendState?) throws(SystemError) -> UpstreamConnection? {
        // The fewest streams wins, but a connection whose send window is exhausted (its
        // server is not reading request bodies) loses to any that can make progress.
        var best: UpstreamConnection?
        for c in connections where c.acceptsStreams {
            guard let b = best else { best = c; continue }
            let (cOpen, bOpen) = (c.sendWindow > 0, b.sendWindow > 0)
            if cOpen != bOpen { if cOpen { best = c }; continue }
            if c.activeStreams < b.activeStreams { best = c }
        }
        if let best { return best }
        let least = connections.min(by: { $0.activeStreams < $1.activeStreams })
        if connections.count >= worker.settings.maxConnectionsPerEndpoint, let least { return least }
        if let load = backend?.load, !load.breaker.tryAcquire(.connections) {
            worker.metrics.increment(.connectionOverflows)
            return least
        }
        var tls: TLSConnection?
        if usesTLS {
            guard let context = worker.snapshot.tls?.client else {
                backend?.load.breaker.release(.connections)
                throw SystemError("mTLS to \(address) without a TLS configuration", code: EINVAL)
            }
            tls = TLSConnection(context: context, expectedPeer: identity, sessionCache: worker.forwarder.tlsSessionCache,
                                upstreamKey: address.description)
        }
        let connection = try open(worker: worker, for: backend) { fd in
            UpstreamConnection(worker: worker, pool: self, fd: fd, tls: tls)
        }
        connections.append(connection)
        return connection
    }

    /// Connects a new socket to this endpoint and starts `make(fd)` on it with `backend`'s
    /// connect and idle timeouts; the connection holds the `connections` breaker unit the
    /// caller took (released here when the connect fails at once). Both protocols' pools
    /// open connections this way.
    func open<C: PooledUpstreamConnection>(worker: Worker, for backend: BackendState?,
                                           _ make: (Int32) -> C) throws(SystemError) -> C {
        let fd: Int32
        do {
            fd = try Sockets.connect(to: address)
        } catch {
            backend?.load.breaker.release(.connections)
            throw error
        }
        let connection = make(fd)
        connection.heldLoad = backend?.load
        connection.idleTimeoutNanos = backend?.destination?.idleTimeoutNanos
        do {
            try connection.start(connectTimeoutNanos: backend?.destination?.connectTimeoutNanos ?? worker.settings.connectTimeoutNanos)
        } catch {
            connection.close(reason: error.description)
            throw error
        }
        return connection
    }

    /// Removes a connection that closed or will take no new streams.
    func remove(_ connection: UpstreamConnection) {
        connections.removeAll { $0 === connection }
    }
}

/// What `UpstreamPool.open` needs of a pooled upstream connection, HTTP/2 or HTTP/1.1.
protocol PooledUpstreamConnection: AnyObject {
    /// The service whose `connections` breaker unit the connection holds until it closes.
    var heldLoad: ServiceLoad? { get set }
    /// The DestinationRule's idle timeout, if any (else the proxy's).
    var idleTimeoutNanos: UInt64? { get set }
    /// True once connected (and, for mTLS, handshaken): requests on it are not pending.
    var isReady: Bool { get }
    /// Starts connecting (non-blocking), failing after `connectTimeoutNanos`.
    func start(connectTimeoutNanos: UInt64) throws(SystemError)
    func close(reason: String)
}

extension UpstreamConnection: PooledUpstreamConnection {}
extension HTTP1UpstreamConnection: PooledUpstreamConnection {}
