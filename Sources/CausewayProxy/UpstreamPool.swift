import CausewayLoop
import CausewayMesh

/// One worker's connections to one endpoint.
///
/// A request goes on the connection with the most free streams among those that accept
/// streams; a new connection is opened only when all are full (or gone after GOAWAY),
/// up to `maxConnectionsPerEndpoint`, after which the least loaded connection takes it and
/// nghttp2 queues the stream until the server's limit allows it.
final class UpstreamPool {
    let endpoint: EndpointAddress
    let address: SocketAddress
    private(set) var connections: [UpstreamConnection] = []

    init(endpoint: EndpointAddress, address: SocketAddress) {
        self.endpoint = endpoint
        self.address = address
    }

    /// A connection for one more stream, opening one if needed.
    func acquire(worker: Worker) throws(SystemError) -> UpstreamConnection {
        var best: UpstreamConnection?
        for c in connections where c.acceptsStreams {
            if best == nil || c.activeStreams < best!.activeStreams { best = c }
        }
        if let best { return best }
        if connections.count >= worker.settings.maxConnectionsPerEndpoint,
           let least = connections.min(by: { $0.activeStreams < $1.activeStreams }) {
            return least
        }
        let fd = try Sockets.connect(to: address)
        let connection = UpstreamConnection(worker: worker, pool: self, fd: fd)
        do {
            try connection.start()
        } catch {
            connection.close(reason: error.description)
            throw error
        }
        connections.append(connection)
        return connection
    }

    /// Removes a connection that closed or will take no new streams.
    func remove(_ connection: UpstreamConnection) {
        connections.removeAll { $0 === connection }
    }
}
