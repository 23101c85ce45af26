import CausewayLoop

/// Who asked a question, and so how the answer goes back: a datagram to its address over
/// the server's UDP socket, or a length-prefixed message on its TCP connection.
enum DNSClient {
    case udp(SocketAddress)
    case tcp(DNSTCPConnection)

    /// Largest answer this client takes: its EDNS size (or 512) over UDP, 65,535 over TCP.
    func sizeLimit(for query: DNSQueryLimits) -> Int {
        switch self {
        case .udp: min(query.udpLimit, 65_535)
        case .tcp: 65_535
        }
    }

    var isUDP: Bool {
        if case .udp = self { return true }
        return false
    }
}

/// What `DNSClient.sizeLimit` needs from a query.
protocol DNSQueryLimits {
    var udpLimit: Int { get }
}
