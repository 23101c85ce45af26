/// Where an upstream endpoint listens: an IP literal and a TCP port.
///
/// `host` is always the canonical text of an IP address (see `IPAddress`), without brackets,
/// so it can be handed to `inet_pton` as is and two spellings of one address are equal.
public struct EndpointAddress: Hashable, Sendable, CustomStringConvertible {
    /// Canonical IP literal, without brackets: `10.0.0.1`, `2001:db8::5`.
    public let host: String
    /// TCP port, 1...65535 for endpoints read from config.
    public let port: UInt16
    /// IP version of `host`.
    public let family: AddressFamily

    /// Creates an address from a parsed IP address.
    public init(ip: IPAddress, port: UInt16) {
        self.host = ip.description
        self.port = port
        self.family = ip.family
    }

    /// Parses `host` as an IP literal (no brackets). Returns nil if it is not one.
    public init?(host: String, port: UInt16) {
        guard let ip = IPAddress(host) else { return nil }
        self.init(ip: ip, port: port)
    }

    /// `10.0.0.1:8080` or `[::1]:8080`: the form an HTTP authority and most tools use.
    public var description: String {
        switch family {
        case .ipv4: "\(host):\(port)"
        case .ipv6: "[\(host)]:\(port)"
        }
    }
}

extension EndpointAddress: Comparable {
    /// Orders by host text, then port: the stable order `ServiceEntry.readyEndpoints` is kept in.
    /// Byte order of the host, not numeric order: it only needs to be deterministic.
    public static func < (lhs: EndpointAddress, rhs: EndpointAddress) -> Bool {
        if lhs.host != rhs.host { return lhs.host.utf8.lexicographicallyPrecedes(rhs.host.utf8) }
        return lhs.port < rhs.port
    }
}
