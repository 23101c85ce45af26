#if canImport(Glibc)
import Glibc
#endif
import CausewayMesh

/// This host's IP addresses, as the DNS server compares them: raw bytes, 4 for IPv4 and 16
/// for IPv6, an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) reduced to its IPv4 bytes (it
/// is the same host on the wire).
///
/// Used to refuse a configuration whose upstream resolver is the DNS server itself
/// (`DNSConfig.forwardsToItself`) and, at run time, to answer only this host's own
/// processes when the server listens on a non-loopback address (`DNSSourceFilter`).
enum DNSHostAddresses {
    /// The address of every interface now (`getifaddrs`), loopback included; empty if the
    /// kernel cannot say.
    static func current() -> Set<[UInt8]> {
        var first: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&first) == 0 else { return [] }
        defer { freeifaddrs(first) }
        var out: Set<[UInt8]> = []
        var entry = first
        while let e = entry {
            if let address = e.pointee.ifa_addr, let bytes = bytes(of: address) { out.insert(bytes) }
            entry = e.pointee.ifa_next
        }
        return out
    }

    /// The address in a `sockaddr` of family AF_INET or AF_INET6; nil for other families.
    static func bytes(of address: UnsafePointer<sockaddr>) -> [UInt8]? {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                withUnsafeBytes(of: p.pointee.sin_addr) { Array($0) }
            }
        case AF_INET6:
            return normalized(address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) }
            })
        default:
            return nil
        }
    }

    /// The bytes of an IP literal (`10.0.0.1`, `::1`); nil if `text` is not one.
    static func bytes(ofLiteral text: String) -> [UInt8]? {
        IPAddress(text).map { normalized($0.bytes) }
    }

    /// `bytes` with an IPv4-mapped IPv6 address reduced to its 4 IPv4 bytes.
    static func normalized(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else { return bytes }
        return Array(bytes[12..<16])
    }

    /// 127.0.0.0/8 or ::1: only this host sends from or to these.
    static func isLoopback(_ bytes: [UInt8]) -> Bool {
        switch bytes.count {
        case 4: bytes[0] == 127
        case 16: bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
        default: false
        }
    }

    /// 0.0.0.0 or `::`: listening there takes every address of the family.
    static func isUnspecified(_ bytes: [UInt8]) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { $0 == 0 }
    }
}

extension DNSConfig {
    /// True when questions forwarded to `upstream` would come back to a DNS server listening
    /// on `address`: same port, and the upstream is the listening address itself, or the
    /// server listens on the wildcard of the upstream's family (`0.0.0.0`, or `[::]`, which
    /// takes IPv6 only) and the upstream is an address of this host: loopback, an
    /// interface's (`localAddresses`, asked only then), or the unspecified address (which
    /// Linux delivers to loopback).
    static func forwardsToItself(upstream: SocketAddressSpec, address: SocketAddressSpec,
                                 localAddresses: () -> Set<[UInt8]> = DNSHostAddresses.current) -> Bool {
        guard upstream.port == address.port, var target = DNSHostAddresses.bytes(ofLiteral: upstream.host),
              let listening = DNSHostAddresses.bytes(ofLiteral: address.host)
        else { return false }
        if DNSHostAddresses.isUnspecified(target) {
            target = target.count == 4 ? [127, 0, 0, 1] : [UInt8](repeating: 0, count: 15) + [1]
        }
        if target == listening { return true }
        guard DNSHostAddresses.isUnspecified(listening), listening.count == target.count else { return false }
        return DNSHostAddresses.isLoopback(target) || localAddresses().contains(target)
    }
}
