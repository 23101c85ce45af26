#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 socket address.
public enum SocketAddress: Sendable, CustomStringConvertible {
    case v4(sockaddr_in)
    case v6(sockaddr_in6)

    /// Parses an IP literal (no brackets) and a port. Returns nil if `ip` is not a literal.
    public init?(ip: String, port: UInt16) {
        var a4 = in_addr()
        if inet_pton(AF_INET, ip, &a4) == 1 {
            var s = sockaddr_in()
            s.sin_family = sa_family_t(AF_INET)
            s.sin_port = port.bigEndian
            s.sin_addr = a4
            self = .v4(s)
            return
        }
        var a6 = in6_addr()
        if inet_pton(AF_INET6, ip, &a6) == 1 {
            var s = sockaddr_in6()
            s.sin6_family = sa_family_t(AF_INET6)
            s.sin6_port = port.bigEndian
            s.sin6_addr = a6
            self = .v6(s)
            return
        }
        return nil
    }

    /// The address family, `AF_INET` or `AF_INET6`.
    public var family: Int32 {
        switch self {
        case .v4: AF_INET
        case .v6: AF_INET6
        }
    }

    /// The port in host order.
    public var port: UInt16 {
        switch self {
        case .v4(let s): UInt16(bigEndian: s.sin_port)
        case .v6(let s): UInt16(bigEndian: s.sin6_port)
        }
    }

    /// Calls `body` with a `sockaddr` pointer and its length.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        switch self {
        case .v4(var s):
            return try withUnsafePointer(to: &s) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(var s):
            return try withUnsafePointer(to: &s) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// The locally bound address of `fd`.
    public static func local(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0 else { return nil }
        return withUnsafePointer(to: &storage) { p -> SocketAddress? in
            switch Int32(p.pointee.ss_family) {
            case AF_INET: return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { .v4($0.pointee) }
            case AF_INET6: return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { .v6($0.pointee) }
            default: return nil
            }
        }
    }

    public var description: String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch self {
        case .v4(var s):
            inet_ntop(AF_INET, &s.sin_addr, &buf, socklen_t(buf.count))
            return "\(Self.text(buf)):\(port)"
        case .v6(var s):
            inet_ntop(AF_INET6, &s.sin6_addr, &buf, socklen_t(buf.count))
            return "[\(Self.text(buf))]:\(port)"
        }
    }

    private static func text(_ buf: [CChar]) -> String {
        String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
