import CausewayDNS
import CausewayLoop

/// Who asked a question, and so how the answer goes back: a datagram to its address over
/// the server's UDP socket, or a length-prefixed message on its TCP connection.
enum DNSClient {
    case udp(SocketAddress)
    case tcp(DNSTCPConnection)

    /// Largest answer sent to this client: over UDP its EDNS size (512 without EDNS), but
    /// never more than the 1,232 bytes we advertise, whatever it claims, so a query with a
    /// forged source address cannot make us send more than that to a victim (a larger
    /// answer goes out as TC and the client asks over TCP, which cannot be forged); over
    /// TCP 65,535.
    func sizeLimit(for query: DNSQuery) -> Int {
        switch self {
        case .udp: min(query.udpLimit, Int(DNSResponseWriter.advertisedPayloadSize))
        case .tcp: 65_535
        }
    }

    var isUDP: Bool {
        if case .udp = self { return true }
        return false
    }
}
