#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop

/// Who the DNS server answers. On a loopback address only this host can reach it, and every
/// source is answered. On any other address (a wildcard such as `0.0.0.0`, or the pod's
/// own) the pod's network could reach it too, and it would be an open recursive resolver,
/// with spoofed sources drawing answers at victims; so only this host's own addresses are
/// answered: loopback, and the address of any local interface (a question the capture rules
/// redirect here carries the pod's interface address as its source). Others are dropped
/// (UDP) or closed at accept (TCP), and counted (`outcome="refused-source"`).
///
/// The interface addresses are asked of the kernel again when they are more than a second
/// old, so an address added or removed later is seen within a second, and a flood of
/// questions costs one look a second at most.
struct DNSSourceFilter {
    /// False when the server listens on loopback: everyone who can send is this host.
    let restricted: Bool
    /// This host's addresses at the last look (`DNSHostAddresses` form).
    private(set) var local: Set<[UInt8]>
    private var lookedAt: UInt64
    private let lookup: () -> Set<[UInt8]>

    /// How old the addresses may be before the next question makes a new look.
    static let refreshNanos: UInt64 = 1_000_000_000

    init(restricted: Bool, now: UInt64, lookup: @escaping () -> Set<[UInt8]> = DNSHostAddresses.current) {
        self.restricted = restricted
        self.lookup = lookup
        local = restricted ? lookup() : []
        lookedAt = now
    }

    /// For a server listening on `address`.
    init(listeningOn address: SocketAddressSpec, now: UInt64) {
        self.init(restricted: !address.isLoopback, now: now)
    }

    /// True when a question from `source` (address bytes, as `DNSHostAddresses` gives
    /// them) is answered.
    mutating func admits(_ source: [UInt8], now: UInt64) -> Bool {
        guard restricted else { return true }
        let source = DNSHostAddresses.normalized(source)
        if DNSHostAddresses.isLoopback(source) { return true }
        if now &- lookedAt > Self.refreshNanos {
            local = lookup()
            lookedAt = now
        }
        return local.contains(source)
    }

    /// The address bytes of `address`.
    static func bytes(of address: SocketAddress) -> [UInt8] {
        address.withSockAddr { pointer, _ in DNSHostAddresses.bytes(of: pointer) } ?? []
    }

    /// The address bytes of the peer of connected socket `fd`; nil if the kernel cannot say.
    static func peer(of fd: Int32) -> [UInt8]? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                getpeername(fd, address, &length) == 0 ? DNSHostAddresses.bytes(of: address) : nil
            }
        }
    }
}
