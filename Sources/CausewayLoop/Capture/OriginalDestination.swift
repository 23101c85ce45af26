#if canImport(Glibc)
import Glibc
#endif

extension SocketAddress {
    /// `SO_ORIGINAL_DST` (linux/netfilter_ipv4.h) and `IP6T_SO_ORIGINAL_DST`
    /// (linux/netfilter_ipv6/ip6_tables.h): both 80. Defined here because those kernel
    /// headers clash with glibc's in one translation unit.
    static let originalDestinationOption: Int32 = 80

    /// Where an accepted connection was addressed before the `nat` table rewrote it (a
    /// `REDIRECT` to this listener): conntrack's original destination, read with
    /// `SO_ORIGINAL_DST` at `SOL_IP`, or `IP6T_SO_ORIGINAL_DST` at `SOL_IPV6` for IPv6. Nil
    /// when conntrack has no entry for the connection (nothing loaded, nothing rewritten).
    ///
    /// A connection that was not rewritten but is tracked reports its own local address;
    /// `capturedDestination(of:)` tells the two apart.
    public static func originalDestination(of fd: Int32, family: Int32) -> SocketAddress? {
        switch family {
        case AF_INET:
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            guard getsockopt(fd, Int32(IPPROTO_IP), originalDestinationOption, &address, &length) == 0,
                  Int32(address.sin_family) == AF_INET else { return nil }
            return .v4(address)
        case AF_INET6:
            var address = sockaddr_in6()
            var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            guard getsockopt(fd, Int32(IPPROTO_IPV6), originalDestinationOption, &address, &length) == 0,
                  Int32(address.sin6_family) == AF_INET6 else { return nil }
            return .v6(address)
        default:
            return nil
        }
    }

    /// The original destination of an accepted connection that capture redirected to us;
    /// nil when it was not redirected (no conntrack entry, or the original destination is
    /// the connection's own local address: it was addressed to the listener itself).
    /// Two system calls; run once per accepted connection.
    public static func capturedDestination(of fd: Int32) -> SocketAddress? {
        guard let local = SocketAddress.local(of: fd),
              let original = originalDestination(of: fd, family: local.family) else { return nil }
        return original.sameEndpoint(as: local) ? nil : original
    }

    /// True when both are the same family, address and port.
    public func sameEndpoint(as other: SocketAddress) -> Bool {
        switch (self, other) {
        case (.v4(let a), .v4(let b)):
            return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr
        case (.v6(var a), .v6(var b)):
            guard a.sin6_port == b.sin6_port else { return false }
            return memcmp(&a.sin6_addr, &b.sin6_addr, MemoryLayout<in6_addr>.size) == 0
        default:
            return false
        }
    }
}
