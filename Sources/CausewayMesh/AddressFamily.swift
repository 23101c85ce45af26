/// The IP version of an address.
public enum AddressFamily: Sendable, Hashable {
    /// IPv4, 4 bytes, written `10.0.0.1`.
    case ipv4
    /// IPv6, 16 bytes, written `::1` (and `[::1]` when followed by a port).
    case ipv6
}
